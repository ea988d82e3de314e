/**
 * `npm run bench`: the service's import speed, memory and responsiveness against plain COPY
 * (issue 4, item 1; measured as issue 22, item 4 asks). One run:
 *
 *   generate CSV + NDJSON (seeded) -> fresh database -> server child process -> API key
 *   -> the rounds (3 by default), the first of them on the freshly started server, each:
 *      `psql \copy` of the CSV into a twin of `events` (the baseline)
 *      -> the CSV, then the NDJSON, sent by curl (its own multipart boundary): the counted imports
 *      -> the same two files sent by the project's own client (src/client), reported beside them
 *      (one import at a time: one active job per tenant), each followed over jobProgress while
 *      `jobs` is queried every 100 ms and the server's RSS sampled
 *   -> optionally the same in embedded (PGlite) mode with fewer rows, once
 *   -> table + JSON; server killed, database dropped and files removed, also on error.
 *
 * Nothing is emptied between loads: `events` and the COPY's twin keep every row (a service's
 * tables grow), so each round loads into bigger tables than the one before. Every upload after a
 * file's first says allowDuplicateFile. With --upload staged the counted imports are the project's
 * client's staged uploads (curl has no such path) and nothing is reported beside them.
 *
 * `--warmup N` (0 by default) adds rounds before the counted ones, measured and printed but not
 * counted: a server that has been running (its spool's spare files written, its code optimised)
 * rather than one just started.
 *
 * Rounds, because this machine is shared: the same COPY took 4.3 to 6.3 s within one hour. Each
 * round's ratio compares an import with the COPY just before it, and the table gives the median
 * of the rounds for speed, the worst round for latency, progress gaps and memory.
 *
 * `--scenario fairness` runs bench/fairness.ts instead: two tenants' big imports and a third's small one;
 * `--scenario big-file` runs bench/bigFile.ts: a 1 GiB file against a 1M-row one, and two at once.
 *
 * Options: --rows N (1,000,000)  --rounds N (3)  --warmup N (0)  --out FILE (bench/out/latest.json)  --skip-ndjson
 *          --skip-own-client (no imports by the project's client beside curl's)
 *          --server-log FILE (the server's output, at LOG_LEVEL or info: its completion logs
 *          tell parseWaitMs from commitMs)
 *          --pglite  --pglite-rows N (100,000)  --seed N (1)  --timeout-min N (30, per import)
 *          --spool folder|s3 (folder): with s3, the server spools into an S3 store (SPOOL_URL=s3://...):
 *          the one in S3_ENDPOINT and S3_BUCKET when set, else a local radosgw the run starts
 *          (scripts/radosgw.sh) and stops
 *          --embedded: then the embedded default, engine by engine (--embedded-engines, postgres,pglite),
 *          with the same files and as many rounds: memory of the server and its database together,
 *          speed against the rounds above, start times, install size (embedded.ts)
 * Needs DATABASE_URL: the Postgres server the run creates its database on. BENCH_SERVER_NODE_ARGS
 * adds node options to the server's command line (e.g. "--cpu-prof --cpu-prof-dir=prof" for
 * a CPU profile of each of its threads, written as it exits).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  createApiKey, curlUpload, followJob, jobUuid, startJobsPoller, uploadFile, type FollowResult, type PollerResult, type UploadMode, type UploadResult,
} from './client.js';
import {
  checkpoint, connect, copyIntoTwin, countEventsOfJob, createCopyTwin, createBenchDatabase, serverDatabaseEnv, serverVersion, sessionUrlOf, type Sql,
} from './database.js';
import { startRadosgw } from './radosgw.js';
import { generateEvents } from './generate.js';
import { judge, machine, median, percentile, render, type BenchReport, type ImportFigures, type PgliteFigures } from './report.js';
import { cpuBetween, cpuSnapshot, type CpuFigures } from './cpuUsage.js';
import { buildServer, startServer, type ServerProcess } from './serverProcess.js';
import { judgeEmbedded, measureEmbedded, renderEmbedded, type Engine, type EmbeddedFigures, type ReferenceImport } from './embedded.js';
import { runFairness } from './fairness.js';
import { runBigFile } from './bigFile.js';

const JOBS_POLL_MS = 100;
/** Who sends an upload: curl (a standard client, counted) or the project's own client (beside it). */
type Sender = 'curl' | 'own';
const TENANT = 'bench';
/** Server settings worth recording with the figures when the caller sets them. */
const SERVER_KNOBS = ['WORKER_CONCURRENCY', 'BATCH_SIZE', 'PROGRESS_INTERVAL_MS', 'POLL_INTERVAL_MS', 'MAX_FILE_SIZE', 'LEASE_MS'];

function count(name: string, raw: string): number {
  const n = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number, got "${raw}"`);
  return n;
}

const USAGE = `usage: DATABASE_URL=postgres://... npm run bench -- [--rows N] [--rounds N] [--warmup N] [--out FILE] [--skip-ndjson] [--skip-own-client] [--server-log FILE]
                                        [--pglite] [--pglite-rows N] [--embedded] [--embedded-engines postgres,pglite] [--seed N] [--timeout-min N] [--spool folder|s3]`;

function options() {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '0' },
      'skip-own-client': { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/out/latest.json' },
      'skip-ndjson': { type: 'boolean', default: false },
      'server-log': { type: 'string' },
      pglite: { type: 'boolean', default: false },
      embedded: { type: 'boolean', default: false },
      'embedded-engines': { type: 'string', default: 'postgres,pglite' },
      'pglite-rows': { type: 'string', default: '100000' },
      seed: { type: 'string', default: '1' },
      'timeout-min': { type: 'string', default: '30' },
      spool: { type: 'string', default: 'folder' },
      upload: { type: 'string', default: 'multipart' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.upload !== 'multipart' && values.upload !== 'staged') throw new Error(`--upload must be multipart or staged, got "${values.upload}"`);
  return {
    upload: values.upload as UploadMode,
    rows: count('rows', values.rows!),
    rounds: count('rounds', values.rounds!),
    warmup: values.warmup === '0' ? 0 : count('warmup', values.warmup!),
    out: path.resolve(values.out!),
    ndjson: !values['skip-ndjson'],
    ownClientBeside: values.upload === 'multipart' && !values['skip-own-client'],
    serverLog: values['server-log'] ? path.resolve(values['server-log']) : undefined,
    pglite: values.pglite!,
    embedded: values.embedded!,
    embeddedEngines: engines(values['embedded-engines']!),
    pgliteRows: count('pglite-rows', values['pglite-rows']!),
    seed: count('seed', values.seed!),
    timeoutMs: count('timeout-min', values['timeout-min']!) * 60_000,
    spool: spoolKind(values.spool!),
  };
}

type Options = ReturnType<typeof options>;

function spoolKind(raw: string): 'folder' | 's3' {
  if (raw === 'folder' || raw === 's3') return raw;
  throw new Error(`--spool must be folder or s3, got "${raw}"`);
}

function engines(raw: string): Engine[] {
  const list = raw.split(',').map((e) => e.trim()).filter(Boolean);
  for (const e of list) if (e !== 'postgres' && e !== 'pglite') throw new Error(`--embedded-engines takes postgres and/or pglite, got "${e}"`);
  return list as Engine[];
}

/**
 * Cleanup steps, run last-in first-out at the end, on error, and on Ctrl-C. Whoever calls `run`
 * second (main's finally while the signal handler is at it) waits for the same run to finish.
 */
class Cleanup {
  private steps: { what: string; fn: () => Promise<void> }[] = [];
  private running: Promise<void> | null = null;
  add(what: string, fn: () => Promise<void>): void { this.steps.push({ what, fn }); }
  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.fn();
        } catch (err) {
          console.error(`cleanup: could not ${step.what}: ${(err as Error).message}`);
        }
      }
    })();
    return this.running;
  }
}

const log = (message: string) => console.error(`[bench] ${message}`);

/** Set on Ctrl-C: what fails afterwards (the server going away mid-upload) is not worth reporting. */
let interruptedBy: string | null = null;

/** One round: its COPY baseline, and its imports (without a ratio yet). */
interface Round { copySeconds: number; copyCpu: CpuFigures; csv: Measured; ndjson: Measured | null; ownCsv: Measured | null; ownNdjson: Measured | null }
type Measured = Omit<ImportFigures, 'ratioToCopy'>;

/** An import's ratio in its round: against the COPY that ran just before it. */
const roundFigures = (round: Round, f: Measured) => ({
  seconds: f.seconds, ratioToCopy: round.copySeconds / f.seconds, uploadSeconds: f.uploadSeconds, peakRssMb: f.peakRssMb, cpu: f.cpu, slowestJobsAnswer: f.slowestJobsAnswer,
  problem: f.problem,
});

/** A round as the JSON report holds it (counted and warm-up rounds alike). */
const reportedRound = (r: Round): BenchReport['rounds'][number] => ({
  copySeconds: r.copySeconds,
  copyCpu: r.copyCpu,
  csv: roundFigures(r, r.csv),
  ndjson: r.ndjson ? roundFigures(r, r.ndjson) : null,
  ownClient: r.ownCsv ? { csv: roundFigures(r, r.ownCsv), ndjson: r.ownNdjson ? roundFigures(r, r.ownNdjson) : null } : undefined,
});

/**
 * One path over all rounds: the median round (by time) for speed, with the median of the rounds'
 * ratios; the worst round for `jobs` latency, progress gaps and memory; any round's problem.
 */
function combineRounds(rounds: Round[], pick: (r: Round) => Measured): ImportFigures {
  const figures = rounds.map(pick);
  const bySeconds = [...figures].sort((a, b) => a.seconds - b.seconds);
  const mid = bySeconds[Math.floor((bySeconds.length - 1) / 2)];
  const worst = (get: (f: Measured) => number | null) => Math.max(...figures.map((f) => get(f) ?? -Infinity));
  return {
    ...mid,
    seconds: median(figures.map((f) => f.seconds)),
    rowsPerSec: median(figures.map((f) => f.rowsPerSec)),
    ratioToCopy: median(rounds.map((r) => roundFigures(r, pick(r)).ratioToCopy)),
    uploadSeconds: median(figures.map((f) => f.uploadSeconds)),
    maxProgressGapMs: worst((f) => f.maxProgressGapMs),
    jobsLatencyP50Ms: median(figures.map((f) => f.jobsLatencyP50Ms ?? 0)),
    jobsLatencyP99Ms: worst((f) => f.jobsLatencyP99Ms),
    jobsQueryErrors: figures.reduce((n, f) => n + f.jobsQueryErrors, 0),
    peakRssMb: worst((f) => f.peakRssMb),
    problem: figures.find((f) => f.problem)?.problem,
  };
}

/**
 * One import through the service: upload, follow to the end, and check the rows really are there.
 * `verify` counts the job's rows; the poller, when given, measures `jobs` latency meanwhile.
 */
async function measureImport(opts: {
  server: ServerProcess; key: string; file: string; rows: number; timeoutMs: number;
  pollJobs: boolean; verify: (jobUuid: string, rowsImported: number) => Promise<number>; allowDuplicateFile?: boolean; upload: UploadMode;
  sender?: Sender;
}) {
  await opts.server.rss.beginPhase();
  const poller = opts.pollJobs ? await startJobsPoller({ url: opts.server.url, key: opts.key, intervalMs: JOBS_POLL_MS }) : null;
  const cpuBefore = await cpuSnapshot(opts.server.pid);
  const started = performance.now();
  let upload: UploadResult;
  let follow: FollowResult;
  let polled: PollerResult | undefined;
  try {
    const request = { url: opts.server.url, key: opts.key, file: opts.file, kind: 'EVENTS', allowDuplicateFile: opts.allowDuplicateFile };
    upload = opts.sender === 'curl' ? await curlUpload(request) : await uploadFile({ ...request, mode: opts.upload });
    follow = await followJob({ wsUrl: opts.server.wsUrl, key: opts.key, jobId: upload.jobId, timeoutMs: opts.timeoutMs });
  } catch (err) {
    // The server's last words are usually the explanation (a crash, an exception it logged).
    const output = opts.server.output().trim();
    throw new Error(`${(err as Error).message}${output ? `\n--- server output (last lines) ---\n${output}` : ''}`, { cause: err });
  } finally {
    polled = await poller?.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const slowest = polled?.latenciesMs.length ? polled.latenciesMs.indexOf(Math.max(...polled.latenciesMs)) : -1;
  const cpu = cpuBetween(cpuBefore, await cpuSnapshot(opts.server.pid));
  const peakRssMb = await opts.server.rss.endPhase();
  const { final } = follow;

  const rowsVerified = await opts.verify(jobUuid(final.id), final.rowsImported);
  let problem: string | undefined;
  if (final.status !== 'COMPLETED') problem = `job ${final.status}${final.failureReason ? `: ${final.failureReason}` : ''}`;
  else if (final.rowsFailed > 0 || final.rowsDuplicate > 0) problem = `${final.rowsFailed} rows failed, ${final.rowsDuplicate} duplicate`;
  else if (rowsVerified !== opts.rows) problem = `${rowsVerified} rows written, ${opts.rows} expected`;
  if (polled?.errors) log(`jobs query: ${polled.errors} errors, first: ${polled.firstError}`);

  return {
    seconds,
    rowsPerSec: opts.rows / seconds,
    uploadSeconds: upload.seconds,
    progressEvents: follow.events,
    maxProgressGapMs: follow.maxGapMs,
    jobsLatencyP50Ms: polled ? percentile(polled.latenciesMs, 50) : null,
    jobsLatencyP99Ms: polled ? percentile(polled.latenciesMs, 99) : null,
    jobsQueries: polled ? polled.latenciesMs.length + polled.errors : 0,
    jobsQueryErrors: polled?.errors ?? 0,
    slowestJobsAnswer: slowest < 0 ? null : {
      ms: polled!.latenciesMs[slowest],
      // The poller starts just before the upload: close enough to place the answer in the import.
      atSeconds: polled!.sentAtMs[slowest] / 1000,
      duringUpload: polled!.sentAtMs[slowest] / 1000 < upload.seconds,
    },
    peakRssMb,
    rowsVerified,
    status: final.status,
    problem,
    cpu,
  };
}

/** JSON figures to 3 decimals: the measurements are not more precise than that. */
const roundNumbers = (_key: string, value: unknown) =>
  typeof value === 'number' && !Number.isInteger(value) ? Math.round(value * 1000) / 1000 : value;

function serverEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...extra };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete env[k];
  return env;
}

/** Embedded mode: a server with no DATABASE_URL on a fresh data folder, a key through its inbox, one CSV. */
async function measurePglite(opts: Options, workDir: string, cleanup: Cleanup): Promise<PgliteFigures> {
  const csvPath = path.join(workDir, `events-pglite-${opts.pgliteRows}.csv`);
  log(`PGlite: generating ${opts.pgliteRows.toLocaleString('en-US')} rows`);
  const files = await generateEvents({ rows: opts.pgliteRows, seed: opts.seed, csvPath });
  const dataDir = path.join(workDir, 'pglite-data');
  await fs.mkdir(dataDir);
  const env = serverEnv({ DATABASE_URL: undefined, DATA_DIR: dataDir, EMBEDDED_DATABASE: 'pglite' });

  log('PGlite: starting the server');
  const server = await startServer({ env, label: 'PGlite server' });
  cleanup.add('stop the PGlite server', server.stop);
  try {
    // With the server running, the CLI posts the key to the server's inbox instead of opening the folder.
    const key = await createApiKey(env, TENANT);
    log('PGlite: uploading the CSV');
    const f = await measureImport({
      server, key, file: csvPath, rows: opts.pgliteRows, timeoutMs: opts.timeoutMs, pollJobs: false, upload: opts.upload,
      // The PGlite folder belongs to the server, so the job's own count is what can be checked here.
      verify: async (_id, rowsImported) => rowsImported,
    });
    return {
      rows: opts.pgliteRows,
      csvBytes: files.csvBytes!,
      seconds: f.seconds,
      rowsPerSec: f.rowsPerSec,
      uploadSeconds: f.uploadSeconds,
      progressEvents: f.progressEvents,
      maxProgressGapMs: f.maxProgressGapMs,
      peakRssMb: f.peakRssMb,
      serverStartupSeconds: server.startupSeconds,
      rowsVerified: f.rowsVerified,
      status: f.status,
      problem: f.problem,
    };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = options();
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    console.error('bench: DATABASE_URL is not set. It needs a Postgres server to create its database on, e.g.\n'
      + '  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench');
    return 2;
  }

  const cleanup = new Cleanup();
  // Ctrl-C reaches us twice (the terminal signals the whole process group, and npm and tsx relay
  // it again): the handlers stay installed, so a second signal cannot kill the cleanup halfway.
  const interrupted = async (signal: string) => {
    if (interruptedBy) return;
    interruptedBy = signal;
    log(`${signal}: cleaning up`);
    await cleanup.run();
    process.exit(130);
  };
  process.on('SIGINT', () => void interrupted('SIGINT'));
  process.on('SIGTERM', () => void interrupted('SIGTERM'));

  let sql: Sql | undefined;
  try {
    const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-bench-'));
    // As root, the embedded PostgreSQL runs as the user postgres, which must reach its data folder in here.
    if (opts.embedded) await fs.chmod(workDir, 0o755);
    cleanup.add('remove the work folder', () => fs.rm(workDir, { recursive: true, force: true }));

    log(`generating ${opts.rows.toLocaleString('en-US')} rows (seed ${opts.seed}) in ${workDir}`);
    const files = await generateEvents({
      rows: opts.rows, seed: opts.seed,
      csvPath: path.join(workDir, 'events.csv'),
      ndjsonPath: opts.ndjson ? path.join(workDir, 'events.ndjson') : undefined,
    });

    const db = await createBenchDatabase(adminUrl);
    cleanup.add(`drop database ${db.name}`, db.drop);
    log(`database ${db.name}`);
    const dataDir = path.join(workDir, 'data');
    await fs.mkdir(dataDir);
    let spoolEnv: Record<string, string> = {};
    if (opts.spool === 's3') {
      const store = await startRadosgw(workDir, cleanup);
      log(`S3 spool: s3://${store.bucket}/bench at ${store.endpoint}`);
      spoolEnv = { ...store.env, SPOOL_URL: `s3://${store.bucket}/bench` };
    }
    const env = serverEnv({ ...serverDatabaseEnv(db), DATA_DIR: dataDir, ...spoolEnv, ...(opts.serverLog ? { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' } : {}) });

    log('building and starting the server (node dist/main.js)');
    await buildServer();
    const server = await startServer({ env, label: 'server', logFile: opts.serverLog });
    cleanup.add('stop the server', server.stop);
    const key = await createApiKey(env, TENANT);
    // What the server holds before any import (code, pools): the imports' peaks include it.
    const serverIdleRssMb = await server.rss.currentMb();

    const pg = connect(sessionUrlOf(db));
    sql = pg;
    const postgresVersion = await serverVersion(pg);

    // No shortcut: the rows of the job are counted in the events table itself.
    const verify = (id: string) => countEventsOfJob(pg, id);
    const rounds: Round[] = [];
    const warmupRounds: Round[] = [];
    const uploaded = new Set<string>();
    // The counted sender: curl for the multipart path; the project's client for staged uploads.
    const counted: Sender = opts.upload === 'multipart' ? 'curl' : 'own';
    await createCopyTwin(pg);
    for (let round = 1 - opts.warmup; round <= opts.rounds; round++) {
      const of = round < 1 ? `warm-up round ${round + opts.warmup}/${opts.warmup}` : `round ${round}/${opts.rounds}`;
      await checkpoint(pg);
      log(`${of}: psql \\copy baseline`);
      const twin = await copyIntoTwin(sessionUrlOf(db), files.csvPath!);
      if (twin.rows !== opts.rows) throw new Error(`COPY baseline loaded ${twin.rows} rows, ${opts.rows} expected`);
      const measure = async (name: string, file: string, sender: Sender) => {
        await checkpoint(pg);
        log(`${of}: ${name} import (${sender === 'curl' ? 'curl' : `the project's client${opts.upload === 'staged' ? ', staged' : ''}`})`);
        const figures = await measureImport({
          server, key, file, rows: opts.rows, timeoutMs: opts.timeoutMs, pollJobs: true, verify, allowDuplicateFile: uploaded.has(file), upload: opts.upload, sender,
        });
        uploaded.add(file);
        return figures;
      };
      const csv = await measure('CSV', files.csvPath!, counted);
      const ndjson = opts.ndjson ? await measure('NDJSON', files.ndjsonPath!, counted) : null;
      const ownCsv = opts.ownClientBeside ? await measure('CSV', files.csvPath!, 'own') : null;
      const ownNdjson = opts.ownClientBeside && opts.ndjson ? await measure('NDJSON', files.ndjsonPath!, 'own') : null;
      (round < 1 ? warmupRounds : rounds).push({ copySeconds: twin.seconds, copyCpu: twin.cpu, csv, ndjson, ownCsv, ownNdjson });
    }
    const copySeconds = median(rounds.map((r) => r.copySeconds));
    const copy = { seconds: copySeconds, rowsPerSec: opts.rows / copySeconds };
    const csv = combineRounds(rounds, (r) => r.csv);
    const ndjson = opts.ndjson ? combineRounds(rounds, (r) => r.ndjson!) : null;
    const ownClient = opts.ownClientBeside
      ? { csv: combineRounds(rounds, (r) => r.ownCsv!), ndjson: opts.ndjson ? combineRounds(rounds, (r) => r.ownNdjson!) : null }
      : undefined;
    const serverPeakRssMb = server.rss.overallPeakMb;
    const rssMethod = server.rss.method;
    // With --embedded the Postgres-mode server stays up, idle but for the reference import it makes
    // before each of the embedded engines' timed imports (below).
    if (!opts.embedded) await server.stop();

    // Embedded mode runs alone: nothing else imports meanwhile. Its failure is reported with the
    // rest rather than thrown: the Postgres figures still stand.
    let pglite: BenchReport['pglite'] = null;
    if (opts.pglite) {
      pglite = await measurePglite(opts, workDir, cleanup).catch((err: Error) => {
        console.error(`[bench] PGlite run failed: ${err.message}`);
        return { rows: opts.pgliteRows, problem: err.message.split('\n')[0] };
      });
    }

    // The embedded engines also run alone, one after the other, on the same files. The machine's
    // PostgreSQL first writes out what the rounds left in its buffers, as it did before each of
    // their imports: not during the embedded engines' imports.
    const embedded: (EmbeddedFigures | { engine: Engine; problem: string })[] = [];
    if (opts.embedded) {
      await checkpoint(pg);
      // Each timed embedded import is paired with the same file's import into the machine's
      // PostgreSQL just before it: on this host the speed drifts from one minute to the next by
      // more than the engines differ, and the embedded rounds run minutes after the reference's.
      const referenceImport: ReferenceImport = async (format, file) => {
        await checkpoint(pg);
        log(`reference for the embedded round: ${format} import (curl)`);
        const figures = await measureImport({
          server, key, file, rows: opts.rows, timeoutMs: opts.timeoutMs, pollJobs: false, verify, allowDuplicateFile: true, upload: 'multipart', sender: 'curl',
        });
        // What the import left in the machine's PostgreSQL's buffers is written now, not during the embedded import.
        await checkpoint(pg);
        return figures.rowsPerSec;
      };
      for (const engine of opts.embeddedEngines) {
        embedded.push(await measureEmbedded({
          engine, workDir, rows: opts.rows, rounds: opts.rounds, csvPath: files.csvPath!, ndjsonPath: files.ndjsonPath ?? null, timeoutMs: opts.timeoutMs,
          log, onStop: (what, fn) => cleanup.add(what, fn), referenceImport,
        }).catch((err: Error) => {
          console.error(`[bench] embedded ${engine} run failed: ${err.message}`);
          return { engine, problem: err.message.split('\n')[0] };
        }));
      }
    }
    if (opts.embedded) await server.stop();
    const reference = { csvRowsPerSec: csv.rowsPerSec, ndjsonRowsPerSec: ndjson?.rowsPerSec ?? null };

    const report: BenchReport = {
      upload: opts.upload,
      countedSender: counted,
      rows: opts.rows,
      seed: opts.seed,
      csvBytes: files.csvBytes!,
      csvBytesPerRow: files.csvBytes! / opts.rows,
      ndjsonBytes: files.ndjsonBytes ?? null,
      generateSeconds: files.seconds,
      copy,
      csv,
      ndjson,
      ownClient,
      rounds: rounds.map(reportedRound),
      warmupRounds: warmupRounds.map(reportedRound),
      serverPeakRssMb,
      serverIdleRssMb,
      rssMethod,
      pglite,
      embedded: embedded.length ? embedded : undefined,
      targets: judge({ csv, ndjson, serverPeakRssMb }),
      machine: machine(),
      node: process.version,
      postgres: postgresVersion,
      serverEnv: {
        ...Object.fromEntries(SERVER_KNOBS.filter((k) => process.env[k]).map((k) => [k, process.env[k]!])),
        ...(opts.spool === 's3' ? { SPOOL_URL: spoolEnv.SPOOL_URL } : {}),
        ...(db.directUrl ? { DATABASE_DIRECT_URL: '(set: DATABASE_URL through a pooler)' } : {}),
      },
      date: new Date().toISOString(),
    };
    console.log(render(report));
    if (embedded.length) {
      console.log(`\nEmbedded default (no DATABASE_URL), ${opts.rows.toLocaleString('en-US')} rows, against the imports above into the machine's PostgreSQL:\n`);
      console.log(renderEmbedded(embedded, reference));
      for (const f of embedded) if ('idle' in f) console.log(judgeEmbedded(f, reference).join('\n'));
    }
    await fs.mkdir(path.dirname(opts.out), { recursive: true });
    await fs.writeFile(opts.out, `${JSON.stringify(report, roundNumbers, 2)}\n`);
    console.log(`\nwritten to ${path.relative(process.cwd(), opts.out) || opts.out}`);

    // Targets missed are results, not errors; an import that failed or lost rows is an error.
    // A warm-up import that lost rows is as broken as a counted one.
    const warmupImports = warmupRounds.flatMap((r) => [r.csv, r.ndjson, r.ownCsv, r.ownNdjson]);
    const broken = [csv, ndjson, ownClient?.csv, ownClient?.ndjson, pglite, ...embedded, ...warmupImports].filter((f) => f?.problem);
    return broken.length ? 1 : 0;
  } finally {
    await sql?.end({ timeout: 5 });
    await cleanup.run();
  }
}

// `--scenario fairness` and `--scenario big-file` are runs of their own (bench/fairness.ts, bench/bigFile.ts), with their own options.
const scenario = process.argv.find((arg, i) => process.argv[i - 1] === '--scenario') ?? process.argv.find((arg) => arg.startsWith('--scenario='))?.slice(11);
const scenarios: Record<string, () => Promise<number>> = { fairness: runFairness, 'big-file': runBigFile };
if (scenario && !scenarios[scenario]) {
  console.error(`bench: no scenario "${scenario}" (there are: ${Object.keys(scenarios).join(', ')})`);
  process.exit(2);
}
(scenario ? scenarios[scenario]() : main()).then((code) => process.exit(code), (err) => {
  if (interruptedBy) return; // the signal handler exits once cleanup is done
  console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : err}`);
  process.exit(1);
});
