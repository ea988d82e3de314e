/**
 * `npm run bench -- --scenario big-file` (issue 22, item 5): a file near the 1 GiB upload limit
 * against a 1M-row one, and two such files at once, on one server with its default settings.
 *
 *   generate a CSV of --rows (1,000,000) and one of --big-rows (3,700,000: 1.06 GB, under the
 *   default MAX_FILE_SIZE of 1 GiB) -> fresh database -> server child process (as `npm start` runs
 *   it) -> two tenants' keys
 *   -> `psql \copy` of each file into a twin of `events` (the reference for what Postgres alone does)
 *   -> tenant A: the 1M-row file, then the big one (the fresh server's first imports count)
 *   -> tenants A and B: the big file at once (A's second, with allowDuplicateFile)
 * Every upload is sent by curl; every import's rows are counted in `events`, which keeps its rows.
 * The server's RSS is sampled every 100 ms (VmRSS, and VmHWM reset per phase) through each phase.
 *
 * Targets: the big import's peak RSS <= 256 MiB and its rows/s within 10% of the 1M-row import's;
 * the two big imports at once under 384 MiB.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApiKey, curlUpload, followJob, jobUuid } from './client.js';
import { connect, copyIntoTwin, countEventsOfJob, createBenchDatabase, createCopyTwin, type Sql } from './database.js';
import { generateEvents } from './generate.js';
import { fmt, machine } from './report.js';
import { buildServer, startServer, type ServerProcess } from './serverProcess.js';

const log = (message: string) => console.error(`[bench big-file] ${message}`);
const TENANTS = { a: 'big-a', b: 'big-b' } as const;
const TARGET_PEAK_MB = 256;
const TARGET_TWO_PEAK_MB = 384;
const TARGET_SLOWDOWN = 0.1;

function options() {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      rows: { type: 'string', default: '1000000' },
      'big-rows': { type: 'string', default: '3700000' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: 'bench/out/big-file.json' },
      'timeout-min': { type: 'string', default: '30' },
      'server-log': { type: 'string' },
    },
  });
  const n = (name: string, raw: string) => {
    const v = Number(raw.replace(/[_,]/g, ''));
    if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive whole number, got "${raw}"`);
    return v;
  };
  return {
    rows: n('rows', values.rows!), bigRows: n('big-rows', values['big-rows']!), seed: n('seed', values.seed!),
    out: path.resolve(values.out!), timeoutMs: n('timeout-min', values['timeout-min']!) * 60_000,
    serverLog: values['server-log'] ? path.resolve(values['server-log']) : undefined,
  };
}

interface Imported { tenant: string; rows: number; seconds: number; rowsPerSec: number; uploadSeconds: number }

/** Uploads `file` as `key`'s tenant with curl, follows the job to its end and counts its rows in `events`. */
async function importOne(server: ServerProcess, pg: Sql, key: string, tenant: string, file: string, rows: number, timeoutMs: number, again: boolean): Promise<Imported> {
  const started = performance.now();
  const upload = await curlUpload({ url: server.url, key, file, kind: 'EVENTS', allowDuplicateFile: again });
  const { final } = await followJob({ wsUrl: server.wsUrl, key, jobId: upload.jobId, timeoutMs });
  const seconds = (performance.now() - started) / 1000;
  const counted = await countEventsOfJob(pg, jobUuid(upload.jobId));
  if (final.status !== 'COMPLETED' || counted !== rows) throw new Error(`${tenant}'s import ended ${final.status} with ${counted} rows in events, ${rows} expected`);
  return { tenant, rows, seconds, rowsPerSec: rows / seconds, uploadSeconds: upload.seconds };
}

/** One phase's imports with the server's peak RSS over them. */
async function phase<T>(server: ServerProcess, run: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  await server.rss.beginPhase();
  const result = await run();
  return { result, peakRssMb: await server.rss.endPhase() };
}

export async function runBigFile(): Promise<number> {
  const opts = options();
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) { console.error('bench: DATABASE_URL is not set'); return 2; }
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-big-'));
  let server: ServerProcess | undefined;
  let pg: Sql | undefined;
  const db = await createBenchDatabase(adminUrl);
  try {
    const small = path.join(workDir, 'events-1m.csv');
    const big = path.join(workDir, 'events-big.csv');
    log(`generating ${opts.rows.toLocaleString('en-US')} and ${opts.bigRows.toLocaleString('en-US')} rows in ${workDir}`);
    await generateEvents({ rows: opts.rows, seed: opts.seed, csvPath: small });
    const bigFile = await generateEvents({ rows: opts.bigRows, seed: opts.seed + 1, csvPath: big });
    const dataDir = path.join(workDir, 'data');
    await fs.mkdir(dataDir);
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: opts.serverLog ? 'info' : 'warn', DATABASE_URL: db.url, DATA_DIR: dataDir };
    log('building and starting the server (node dist/main.js)');
    await buildServer();
    server = await startServer({ env, label: 'server', logFile: opts.serverLog });
    const idleRssMb = await server.rss.currentMb();
    const keys = { a: await createApiKey(env, TENANTS.a), b: await createApiKey(env, TENANTS.b) };
    pg = connect(db.url);

    log('psql \\copy of each file (the reference)');
    await createCopyTwin(pg);
    const copySmall = await copyIntoTwin(db.url, small);
    const copyBig = await copyIntoTwin(db.url, big);

    log('tenant A: the 1M-row file, then the big one');
    const one = await phase(server, () => importOne(server!, pg!, keys.a, TENANTS.a, small, opts.rows, opts.timeoutMs, false));
    const bigAlone = await phase(server, () => importOne(server!, pg!, keys.a, TENANTS.a, big, opts.bigRows, opts.timeoutMs, false));
    log('tenants A and B: the big file at once');
    const two = await phase(server, () => Promise.all([
      importOne(server!, pg!, keys.a, TENANTS.a, big, opts.bigRows, opts.timeoutMs, true),
      importOne(server!, pg!, keys.b, TENANTS.b, big, opts.bigRows, opts.timeoutMs, false),
    ]));

    const slowdown = 1 - bigAlone.result.rowsPerSec / one.result.rowsPerSec;
    const report = {
      scenario: 'big-file',
      rows: opts.rows, bigRows: opts.bigRows, bigFileBytes: bigFile.csvBytes,
      serverIdleRssMb: idleRssMb,
      copy: { oneMillion: { seconds: copySmall.seconds, rowsPerSec: opts.rows / copySmall.seconds }, big: { seconds: copyBig.seconds, rowsPerSec: opts.bigRows / copyBig.seconds } },
      oneMillion: { ...one.result, peakRssMb: one.peakRssMb },
      big: { ...bigAlone.result, peakRssMb: bigAlone.peakRssMb, slowdownVsOneMillion: slowdown },
      twoBig: { imports: two.result, seconds: Math.max(...two.result.map((i) => i.seconds)), peakRssMb: two.peakRssMb },
      targets: {
        bigPeakRssMb: { wanted: `<= ${TARGET_PEAK_MB}`, pass: bigAlone.peakRssMb <= TARGET_PEAK_MB },
        bigSlowdown: { wanted: `<= ${TARGET_SLOWDOWN}`, pass: slowdown <= TARGET_SLOWDOWN },
        twoBigPeakRssMb: { wanted: `< ${TARGET_TWO_PEAK_MB}`, pass: two.peakRssMb < TARGET_TWO_PEAK_MB },
      },
      rssMethod: server.rss.method,
      machine: machine(), loadAverage: os.loadavg(), node: process.version, date: new Date().toISOString(),
    };
    await fs.mkdir(path.dirname(opts.out), { recursive: true });
    await fs.writeFile(opts.out, `${JSON.stringify(report, null, 2)}\n`);
    const pass = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
    const line = (name: string, i: Imported, peak: number) =>
      `${name}: ${fmt(i.seconds, 1)} s (upload ${fmt(i.uploadSeconds, 1)} s), ${fmt(i.rowsPerSec, 0)} rows/s, server peak RSS ${fmt(peak, 0)} MiB`;
    console.log([
      `server idle RSS ${fmt(idleRssMb, 0)} MiB; big file ${fmt(bigFile.csvBytes! / 2 ** 30, 2)} GiB (${opts.bigRows.toLocaleString('en-US')} rows)`,
      `psql \\copy: ${opts.rows.toLocaleString('en-US')} rows ${fmt(copySmall.seconds, 1)} s (${fmt(opts.rows / copySmall.seconds, 0)} rows/s); big file ${fmt(copyBig.seconds, 1)} s (${fmt(opts.bigRows / copyBig.seconds, 0)} rows/s)`,
      line(`${opts.rows.toLocaleString('en-US')} rows`, one.result, one.peakRssMb),
      line('big file', bigAlone.result, bigAlone.peakRssMb),
      `two big files at once: ${fmt(report.twoBig.seconds, 1)} s, server peak RSS ${fmt(two.peakRssMb, 0)} MiB`,
      `targets: big peak <= ${TARGET_PEAK_MB} MiB ${pass(report.targets.bigPeakRssMb.pass)}; big rows/s ${fmt(slowdown * 100, 1)}% below the smaller file's (<= ${TARGET_SLOWDOWN * 100}%) ${pass(report.targets.bigSlowdown.pass)}; two at once < ${TARGET_TWO_PEAK_MB} MiB ${pass(report.targets.twoBigPeakRssMb.pass)}`,
      `RSS: ${server.rss.method}; load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      `written to ${path.relative(process.cwd(), opts.out)}`,
    ].join('\n'));
    return 0;
  } finally {
    await pg?.end({ timeout: 5 });
    await server?.stop();
    await db.drop().catch((err) => console.error(`cleanup: could not drop ${db.name}: ${err.message}`));
    await fs.rm(workDir, { recursive: true, force: true });
  }
}
