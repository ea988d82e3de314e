/**
 * `npm run chaos`: "never lose or duplicate a row" under SIGKILL, at full size. One import of a
 * generated EVENTS CSV; the server (a child process) is killed with SIGKILL at --kills random
 * points spread over the import, each time restarted on the same database and data folder, and
 * each time the import has to resume from its checkpoint (once the dead runner's lease expires)
 * and move past the next point before the next kill. At the end every line of the file must be in
 * `events` exactly once:
 *
 *   select count(*), count(distinct line), min(line), max(line) from events where job_id = $1
 *     = rows, rows, 2, rows + 1          (the CSV header is line 1)
 *
 * and the job COMPLETED with rowsImported = rows. Also checked: after every kill, the committed
 * rows are exactly lines 2 .. checkpoint (the checkpoint and the rows moved together), and a
 * checksum of sum(line x screen_width) equals the file's (each row at its own line, not shifted).
 *
 * Options: --rows N (1,000,000)  --kills N (5)  --seed N (random)  --lease-ms N (2000)
 *          --batch-size N (server default)  --timeout-min N (20)  --keep (keep the database)
 * Needs DATABASE_URL: the Postgres server the run creates (and drops) its own database on.
 * Exits non-zero on any mismatch.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { jobUuid, uploadFile } from './client.js';
import { createBenchDatabase, sessionUrlOf, type BenchDatabase } from './database.js';
import { generateEvents, prng } from './generate.js'; // prng: kill points replay with --seed
import {
  abortedIdleSessions, contentChecksum, createKeyIn, exactLines, fileChecksum, jobState, lineCheck, openSql, waitFor,
  type LineCheck, type Sql,
} from '../test/support/importIntegrity.js';
import { startServerChild, stopAllServerChildren, type ServerChild } from '../test/support/serverProcess.js';

const USAGE = `usage: DATABASE_URL=postgres://... npm run chaos -- [--rows N] [--kills N] [--seed N] [--lease-ms N]
                                        [--batch-size N] [--timeout-min N] [--keep]`;

function whole(name: string, raw: string, min = 1): number {
  const n = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got "${raw}"`);
  return n;
}

function options() {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '1000000' },
      kills: { type: 'string', default: '5' },
      seed: { type: 'string' },
      'lease-ms': { type: 'string', default: '2000' },
      'batch-size': { type: 'string' },
      'timeout-min': { type: 'string', default: '20' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const rows = whole('rows', values.rows!);
  const kills = whole('kills', values.kills!, 0);
  if (kills > 0 && rows < (kills + 1) * 20_000) throw new Error(`--rows ${rows} is too few for ${kills} kills: use at least ${(kills + 1) * 20_000}`);
  return {
    rows,
    kills,
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : whole('seed', values.seed, 0),
    leaseMs: whole('lease-ms', values['lease-ms']!),
    batchSize: values['batch-size'] === undefined ? undefined : whole('batch-size', values['batch-size']),
    timeoutMs: whole('timeout-min', values['timeout-min']!) * 60_000,
    keep: values.keep!,
  };
}

interface Kill {
  n: number;
  threshold: number;
  /** rows_processed read just before the SIGKILL */
  seenBeforeKill: number;
  /** rows committed, read after the process was gone */
  committed: number;
  attempt: number;
  /** committed rows = lines 2 .. checkpoint, and counters agree */
  consistent: boolean;
  detail: string;
  checkpointOffset: number;
  /** from the restart's spawn until the new server committed its first batch of the job */
  resumeSeconds?: number;
  /** the byte offset the next server said it resumed from ("job resumed" log line) */
  resumedFromOffset?: number;
}

const fmt = (n: number) => n.toLocaleString('en-US');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const opts = options();
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    console.error(`${USAGE}\nDATABASE_URL is required: the run creates its own database on that server.`);
    return 2;
  }
  const random = prng(opts.seed);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-chaos-'));
  const dataDir = path.join(tmp, 'data');
  const csv = path.join(tmp, 'events.csv');
  let database: BenchDatabase | null = null;
  let sql: Sql | null = null;
  const started = performance.now();
  const log = (msg: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${msg}`);

  const cleanup = async () => {
    await stopAllServerChildren();
    await sql?.end({ timeout: 5 }).catch(() => {});
    if (database && !opts.keep) await database.drop().catch((err) => console.error(`could not drop ${database!.name}: ${err}`));
    await fs.rm(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => { void cleanup().finally(() => process.exit(130)); });

  try {
    log(`generating ${fmt(opts.rows)} rows (seed 1) ...`);
    const generated = await generateEvents({ rows: opts.rows, seed: 1, csvPath: csv });
    const expected = await fileChecksum(csv);
    if (expected.rows !== opts.rows) throw new Error(`generated file has ${expected.rows} rows, expected ${opts.rows}`);
    log(`${path.basename(csv)}: ${(generated.csvBytes! / 1024 / 1024).toFixed(1)} MiB`);

    database = await createBenchDatabase(adminUrl);
    sql = openSql(sessionUrlOf(database));
    const env: Record<string, string> = {
      ...(database.directUrl ? { DATABASE_DIRECT_URL: database.directUrl } : {}), DATABASE_URL: database.url, DATA_DIR: dataDir, LEASE_MS: String(opts.leaseMs), POLL_INTERVAL_MS: '200',
      ...(opts.batchSize ? { BATCH_SIZE: String(opts.batchSize) } : {}),
    };
    let generation = 1;
    let server: ServerChild = await startServerChild({ label: `server #${generation}`, env });
    log(`database ${database.name}; server #1 pid ${server.pid}; LEASE_MS=${opts.leaseMs}${opts.batchSize ? ` BATCH_SIZE=${opts.batchSize}` : ''}`);
    const key = await createKeyIn(sql, 'chaos');
    const upload = await uploadFile({ url: server.url, key, file: csv, kind: 'EVENTS' });
    const jobId = jobUuid(upload.jobId);
    log(`uploaded in ${upload.seconds.toFixed(1)} s: job ${jobId}`);

    // One random point in each of the first `kills` of kills+1 equal segments, shifted half a segment.
    const segment = opts.rows / (opts.kills + 1);
    const thresholds = Array.from({ length: opts.kills }, (_, i) => Math.round((i + 0.65 + 0.7 * random()) * segment));
    log(`kill points (rows processed, seed ${opts.seed}): ${thresholds.map(fmt).join(', ')}`);

    const kills: Kill[] = [];
    const problems: string[] = [];
    /** The server started after `kill` must have resumed at the checkpoint the kill left. */
    const noteResume = (kill: Kill, by: ServerChild, seconds: number | undefined) => {
      kill.resumeSeconds = seconds;
      const resumed = by.logs().find((l) => l.msg === 'job resumed' && l.jobId === jobId);
      kill.resumedFromOffset = resumed ? Number(resumed.from) : undefined;
      if (!resumed && kill.checkpointOffset > 0) problems.push(`${by.label} did not log "job resumed" after kill ${kill.n}`);
      else if (resumed && kill.resumedFromOffset !== kill.checkpointOffset) {
        problems.push(`after kill ${kill.n}, ${by.label} resumed from byte ${kill.resumedFromOffset}, the checkpoint was ${kill.checkpointOffset}`);
      }
    };
    const deadline = Date.now() + opts.timeoutMs;
    const remaining = () => Math.max(1000, deadline - Date.now());
    for (const [i, threshold] of thresholds.entries()) {
      const attemptBefore = kills.at(-1)?.attempt ?? 0;
      const restartedAt = performance.now();
      let resumeSeconds: number | undefined;
      const seen = await waitFor(`the import to pass row ${fmt(threshold)}`, async () => {
        const job = await jobState(sql!, jobId);
        if (job.status !== 'RUNNING' && job.status !== 'QUEUED') return job;
        if (job.attempt > attemptBefore && resumeSeconds === undefined && i > 0 && job.rows_processed > kills[i - 1].committed) {
          resumeSeconds = (performance.now() - restartedAt) / 1000;
        }
        return job.attempt > attemptBefore && job.rows_processed >= threshold ? job : false;
      }, { timeoutMs: remaining(), intervalMs: 5, onTimeout: () => server.output().slice(-4000) });
      if (seen.status !== 'RUNNING') {
        problems.push(`kill ${i + 1}: the job ended (${seen.status}) before row ${fmt(threshold)}`);
        break;
      }
      if (i > 0) noteResume(kills[i - 1], server, resumeSeconds);
      // Anywhere inside the next batch: during its COPY, at its COMMIT, or between two batches.
      await sleep(random() * 150);
      await server.kill();
      const job = await jobState(sql, jobId);
      const lines = await lineCheck(sql, jobId);
      const consistent = job.status === 'RUNNING' && job.rows_processed === job.rows_imported
        && job.checkpoint_line === (job.rows_imported === 0 ? 0 : job.rows_imported + 1)
        && same(lines, exactLines(job.rows_imported));
      const kill: Kill = {
        n: i + 1, threshold, seenBeforeKill: seen.rows_processed, committed: job.rows_imported, attempt: job.attempt, consistent,
        checkpointOffset: job.checkpoint_offset,
        detail: `status ${job.status}, checkpoint line ${job.checkpoint_line}, events ${show(lines)}`,
      };
      kills.push(kill);
      if (!consistent) problems.push(`after kill ${i + 1}: committed rows do not match the checkpoint (${kill.detail})`);
      log(`SIGKILL #${i + 1} of server #${generation} (pid ${server.pid}) at ${fmt(seen.rows_processed)} rows seen; committed ${fmt(job.rows_imported)} (attempt ${job.attempt}) ${consistent ? 'ok' : 'MISMATCH'}`);
      generation++;
      server = await startServerChild({ label: `server #${generation}`, env });
      log(`server #${generation} pid ${server.pid} started; the job waits for the dead runner's lease (${opts.leaseMs} ms)`);
    }

    const last = kills.at(-1);
    const restartedAt = performance.now();
    let resumeSeconds: number | undefined;
    const final = await waitFor('the job to finish', async () => {
      const job = await jobState(sql!, jobId);
      if (last && resumeSeconds === undefined && job.attempt > last.attempt && job.rows_processed > last.committed) {
        resumeSeconds = (performance.now() - restartedAt) / 1000;
      }
      return job.status !== 'RUNNING' && job.status !== 'QUEUED' ? job : false;
    }, { timeoutMs: remaining(), intervalMs: 20, onTimeout: () => server.output().slice(-4000) });
    if (last) noteResume(last, server, resumeSeconds);
    log(`job ${final.status}${final.failure_reason ? `: ${final.failure_reason}` : ''}`);

    // The checks.
    const lines = await lineCheck(sql, jobId);
    const want = exactLines(opts.rows);
    const checksum = await contentChecksum(sql, jobId);
    const [{ errors }] = await sql<{ errors: number }[]>`select count(*)::int as errors from job_errors where job_id = ${jobId}`;
    const aborted = await abortedIdleSessions(sql, database.name);
    const checks: [string, boolean, string][] = [
      ['job status', final.status === 'COMPLETED', final.status],
      ['count(*) = rows', lines.count === want.count, `${fmt(lines.count)} (want ${fmt(want.count)})`],
      ['count(distinct line) = rows', lines.distinct === want.distinct, `${fmt(lines.distinct)} (want ${fmt(want.distinct)})`],
      ['min(line) = 2', lines.min === want.min, String(lines.min)],
      ['max(line) = rows + 1', lines.max === want.max, `${lines.max === null ? 'null' : fmt(lines.max)} (want ${fmt(want.max!)})`],
      ['rowsImported = rows', final.rows_imported === opts.rows, fmt(final.rows_imported)],
      ['rowsProcessed = rows', final.rows_processed === opts.rows, fmt(final.rows_processed)],
      ['row errors', final.rows_failed === 0 && errors === 0, `${final.rows_failed} counted, ${errors} stored`],
      ['sum(line x screen_width) = file', checksum === expected.checksum, `${checksum} (file ${expected.checksum})`],
      ['claims (attempt) = kills + 1', final.attempt === kills.length + 1, `${final.attempt} (want ${kills.length + 1})`],
      ['checkpoint consistent after every kill', kills.every((k) => k.consistent), `${kills.filter((k) => k.consistent).length}/${kills.length}`],
      ['sessions idle in aborted transaction', aborted === 0, String(aborted)],
    ];

    console.log('\nChaos run: SIGKILL during one import, restart, resume from checkpoint');
    console.log(`  rows ${fmt(opts.rows)}, kills ${kills.length}/${opts.kills}, seed ${opts.seed}, LEASE_MS ${opts.leaseMs}, total ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    console.log('  kill  point(rows)  seen at kill  committed  attempt  consistent  next server resumed');
    for (const k of kills) {
      console.log(`  ${String(k.n).padStart(4)}  ${fmt(k.threshold).padStart(11)}  ${fmt(k.seenBeforeKill).padStart(12)}  ${fmt(k.committed).padStart(9)}  ${String(k.attempt).padStart(7)}  ${(k.consistent ? 'yes' : 'NO').padStart(10)}  ${k.resumeSeconds === undefined ? '-' : `${k.resumeSeconds.toFixed(1)} s after its start, from byte ${k.resumedFromOffset === undefined ? '?' : fmt(k.resumedFromOffset)} = line ${fmt(k.committed + 2)}`}`);
    }
    console.log('');
    for (const [name, ok, value] of checks) console.log(`  ${ok ? 'ok  ' : 'FAIL'}  ${name.padEnd(40)} ${value}`);
    for (const p of problems) console.log(`  FAIL  ${p}`);
    const failed = checks.some(([, ok]) => !ok) || problems.length > 0;
    console.log(`\n${failed ? 'FAILED: rows were lost, duplicated or misplaced (see above)' : 'PASSED: every line of the file exactly once'}`);
    if (opts.keep) console.log(`database kept: ${database.url}`);
    if (failed) console.log(`last server output:\n${server.output().slice(-3000)}`);
    return failed ? 1 : 0;
  } finally {
    await cleanup();
  }
}

const same = (a: LineCheck, b: LineCheck) => a.count === b.count && a.distinct === b.distinct && a.min === b.min && a.max === b.max;
const show = (l: LineCheck) => `count ${l.count}, distinct ${l.distinct}, lines ${l.min}..${l.max}`;

main().then((code) => process.exit(code), (err) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
