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
import { createApiKey } from './client.js';
import { copyIntoTwin, createCopyTwin } from './database.js';
import { generateEvents, type GeneratedFiles } from './generate.js';
import { fmt, machine } from './report.js';
import { importByCurl, runScenario, wholeNumber, type CurlImport } from './scenario.js';
import type { ServerProcess } from './serverProcess.js';

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
  return {
    rows: wholeNumber('rows', values.rows!), bigRows: wholeNumber('big-rows', values['big-rows']!), seed: wholeNumber('seed', values.seed!),
    out: path.resolve(values.out!), timeoutMs: wholeNumber('timeout-min', values['timeout-min']!) * 60_000,
    serverLog: values['server-log'] ? path.resolve(values['server-log']) : undefined,
  };
}

/** One phase's imports with the server's peak RSS over them. */
async function phase<T>(server: ServerProcess, run: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  await server.rss.beginPhase();
  const result = await run();
  return { result, peakRssMb: await server.rss.endPhase() };
}

export async function runBigFile(): Promise<number> {
  const opts = options();
  let small = '';
  let big = '';
  let bigFile: GeneratedFiles | undefined;
  return runScenario({
    name: 'big', serverLog: opts.serverLog, log,
    prepare: async (workDir) => {
      small = path.join(workDir, 'events-1m.csv');
      big = path.join(workDir, 'events-big.csv');
      log(`generating ${opts.rows.toLocaleString('en-US')} and ${opts.bigRows.toLocaleString('en-US')} rows in ${workDir}`);
      await generateEvents({ rows: opts.rows, seed: opts.seed, csvPath: small });
      bigFile = await generateEvents({ rows: opts.bigRows, seed: opts.seed + 1, csvPath: big });
    },
  }, async (run) => {
    const { server, pg, db, env } = run;
    const idleRssMb = await server.rss.currentMb();
    const keys = { a: await createApiKey(env, TENANTS.a), b: await createApiKey(env, TENANTS.b) };
    const timeoutMs = opts.timeoutMs;

    log('psql \\copy of each file (the reference)');
    await createCopyTwin(pg);
    const copySmall = await copyIntoTwin(db.url, small);
    const copyBig = await copyIntoTwin(db.url, big);

    log('tenant A: the smaller file, then the big one');
    const one = await phase(server, () => importByCurl(run, { key: keys.a, tenant: TENANTS.a, file: small, rows: opts.rows, timeoutMs, again: false }));
    const bigAlone = await phase(server, () => importByCurl(run, { key: keys.a, tenant: TENANTS.a, file: big, rows: opts.bigRows, timeoutMs, again: false }));
    log('tenants A and B: the big file at once');
    const two = await phase(server, () => Promise.all([
      importByCurl(run, { key: keys.a, tenant: TENANTS.a, file: big, rows: opts.bigRows, timeoutMs, again: true }),
      importByCurl(run, { key: keys.b, tenant: TENANTS.b, file: big, rows: opts.bigRows, timeoutMs, again: false }),
    ]));

    const slowdown = 1 - bigAlone.result.rowsPerSec / one.result.rowsPerSec;
    const figures = ({ answeredAt: _a, ...i }: CurlImport) => i;
    const report = {
      scenario: 'big-file',
      rows: opts.rows, bigRows: opts.bigRows, bigFileBytes: bigFile!.csvBytes,
      serverIdleRssMb: idleRssMb,
      copy: { smaller: { seconds: copySmall.seconds, rowsPerSec: opts.rows / copySmall.seconds }, big: { seconds: copyBig.seconds, rowsPerSec: opts.bigRows / copyBig.seconds } },
      smaller: { ...figures(one.result), peakRssMb: one.peakRssMb },
      big: { ...figures(bigAlone.result), peakRssMb: bigAlone.peakRssMb, slowdownVsSmaller: slowdown },
      twoBig: { imports: two.result.map(figures), seconds: Math.max(...two.result.map((i) => i.seconds)), peakRssMb: two.peakRssMb },
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
    const line = (name: string, i: CurlImport, peak: number) =>
      `${name}: ${fmt(i.seconds, 1)} s (upload ${fmt(i.uploadSeconds, 1)} s), ${fmt(i.rowsPerSec, 0)} rows/s, server peak RSS ${fmt(peak, 0)} MiB`;
    console.log([
      `server idle RSS ${fmt(idleRssMb, 0)} MiB; big file ${fmt(bigFile!.csvBytes! / 2 ** 30, 2)} GiB (${opts.bigRows.toLocaleString('en-US')} rows)`,
      `psql \\copy: ${opts.rows.toLocaleString('en-US')} rows ${fmt(copySmall.seconds, 1)} s (${fmt(opts.rows / copySmall.seconds, 0)} rows/s); big file ${fmt(copyBig.seconds, 1)} s (${fmt(opts.bigRows / copyBig.seconds, 0)} rows/s)`,
      line(`${opts.rows.toLocaleString('en-US')} rows`, one.result, one.peakRssMb),
      line('big file', bigAlone.result, bigAlone.peakRssMb),
      `two big files at once: ${fmt(report.twoBig.seconds, 1)} s, server peak RSS ${fmt(two.peakRssMb, 0)} MiB`,
      `targets: big peak <= ${TARGET_PEAK_MB} MiB ${pass(report.targets.bigPeakRssMb.pass)}; big rows/s ${fmt(slowdown * 100, 1)}% below the smaller file's (<= ${TARGET_SLOWDOWN * 100}%) ${pass(report.targets.bigSlowdown.pass)}; two at once < ${TARGET_TWO_PEAK_MB} MiB ${pass(report.targets.twoBigPeakRssMb.pass)}`,
      `RSS: ${server.rss.method}; load average at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      `written to ${path.relative(process.cwd(), opts.out)}`,
    ].join('\n'));
    return 0;
  });
}
