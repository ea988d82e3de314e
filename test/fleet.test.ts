/**
 * The service run as a fleet: three server processes with data folders of their own and no
 * shared disk, uploads spooled in the run's real S3 store (radosgw, reached through a TCP proxy
 * the test can take away), every query through a PgBouncer of the test's own in transaction mode
 * (DATABASE_URL) and LISTEN and migrations straight to Postgres (DATABASE_DIRECT_URL).
 *
 * - A 500k-row upload through A, A SIGKILLed mid-import: B or C finishes the job from A's
 *   checkpoint with every line exactly once, while a jobProgress subscriber on C follows it to
 *   COMPLETED.
 * - A job cancelled through an instance that does not run it stops.
 * - The store unreachable for 10 s mid-import: the runner retries its read with backoff and the
 *   job goes on where it was, nothing lost or doubled; /readyz says which dependency failed.
 * - Afterwards the store holds no object and no multipart upload, and no session is idle in a
 *   transaction.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followJob, jobUuid, uploadFile } from '../bench/client.js';
import { generateEvents } from '../bench/generate.js';
import { createTestDatabase, requirePostgres, sessionUrl, type TestDatabase } from './support/database.js';
import {
  contentChecksum, createKeyIn, databaseName, exactLines, fileChecksum, installPace, jobState, lineCheck, openSql, setPace, waitFor, type Sql,
} from './support/importIntegrity.js';
import { requirePgBouncer, startPgBouncer, type PgBouncer } from './support/pgBouncer.js';
import { requireS3, s3Client, s3Store } from './support/s3Store.js';
import { startServerChild, stopAllServerChildren, type ServerChild } from './support/serverProcess.js';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.js';

const enabled = requirePostgres('the fleet test') && requireS3('the fleet test') && requirePgBouncer('the fleet test');
const BIG_ROWS = 500_000;
const SMALL_ROWS = 150_000;
const LEASE_MS = 4000;
const OUTAGE_MS = 10_000;

const globalId = (uuid: string) => Buffer.from(`Job:${uuid}`).toString('base64');

describe.runIf(enabled)('a fleet of three instances on an S3 spool and a transaction-mode pooler', () => {
  let db: TestDatabase;
  let bouncer: PgBouncer;
  let proxy: TcpProxy;
  let sql: Sql;
  let tmp: string;
  let big: string;
  let bigChecksum: string;
  let small: string;
  let smallChecksum: string;
  const fleet: ServerChild[] = [];
  const prefix = `fleet-${Date.now()}`;

  const start = (label: string) => {
    const store = s3Store();
    return startServerChild({
      label,
      env: {
        DATABASE_URL: bouncer.urlOf(databaseName(db.url!)), DATABASE_DIRECT_URL: sessionUrl(db),
        DATA_DIR: path.join(tmp, label), SPOOL_URL: `s3://${store.bucket}/${prefix}`, S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
        AWS_ACCESS_KEY_ID: store.accessKeyId, AWS_SECRET_ACCESS_KEY: store.secretAccessKey, AWS_REGION: store.region,
        LEASE_MS: String(LEASE_MS), POLL_INTERVAL_MS: '250', PROGRESS_INTERVAL_MS: '200',
      },
    });
  };
  const outputs = () => fleet.map((s) => `--- ${s.label} (pid ${s.pid}, ${JSON.stringify(s.exitInfo())}) ---\n${s.output().slice(-3000)}`).join('\n');
  /** The instance whose runner holds the job's lease (lease_owner is host:pid:...). */
  const runnerOf = async (jobId: string) => {
    const job = await jobState(sql, jobId);
    return fleet.find((s) => !s.exitInfo() && job.lease_owner?.split(':')[1] === String(s.pid));
  };
  const waitForEnd = (jobId: string, timeoutMs = 60_000) => waitFor('the job to end', async () => {
    const job = await jobState(sql, jobId);
    return job.finished_at ? job : undefined;
  }, { timeoutMs, onTimeout: outputs });
  const storeHolds = async () => {
    const store = s3Store();
    const s3 = s3Client(store);
    try {
      const objects = await s3.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: `${prefix}/` }));
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: `${prefix}/` }));
      return { objects: (objects.Contents ?? []).length, uploads: (uploads.Uploads ?? []).length };
    } finally {
      s3.destroy();
    }
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    bouncer = await startPgBouncer();
    const endpoint = new URL(s3Store().endpoint);
    proxy = await startTcpProxy(endpoint.hostname, Number(endpoint.port));
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-fleet-'));
    big = path.join(tmp, 'big.csv');
    small = path.join(tmp, 'small.csv');
    await generateEvents({ rows: BIG_ROWS, seed: 500, csvPath: big });
    await generateEvents({ rows: SMALL_ROWS, seed: 150, csvPath: small });
    bigChecksum = (await fileChecksum(big)).checksum;
    smallChecksum = (await fileChecksum(small)).checksum;
  }, 120_000);

  afterAll(async () => {
    await stopAllServerChildren();
    await sql?.end({ timeout: 5 });
    await proxy?.close();
    await bouncer?.stop();
    await db?.drop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('A is killed mid-import of 500k rows; B or C finishes the job, every line once, and a subscriber on C follows it to COMPLETED', async () => {
    fleet.push(...await Promise.all([start('A'), start('B'), start('C')]));
    const [a, b, c] = fleet;
    sql = openSql(sessionUrl(db));
    await installPace(sql, 100);
    const key = await createKeyIn(sql, 'fleet-kill');
    // B and C frozen while A receives the file and claims its job, so that the job is A's.
    b.signal('SIGSTOP');
    c.signal('SIGSTOP');
    let jobId: string;
    try {
      jobId = jobUuid((await uploadFile({ url: a.url, key, file: big, kind: 'EVENTS' })).jobId);
      await waitFor('A to run the job', async () => (await runnerOf(jobId)) === a, { timeoutMs: 20_000, onTimeout: outputs });
    } finally {
      b.signal('SIGCONT');
      c.signal('SIGCONT');
    }
    expect(await storeHolds()).toEqual({ objects: 1, uploads: 0 });

    const followed = followJob({ wsUrl: c.wsUrl, key, jobId: globalId(jobId), timeoutMs: 90_000 });
    await waitFor('a fifth of the rows committed', async () => {
      const job = await jobState(sql, jobId);
      if (job.finished_at) throw new Error(`the job ended (${job.status}) before A could be killed`);
      return job.rows_processed >= BIG_ROWS / 5;
    }, { timeoutMs: 60_000, intervalMs: 20, onTimeout: outputs });
    await a.kill();
    const atKill = await jobState(sql, jobId);
    expect(atKill.status).toBe('RUNNING');
    expect(atKill.rows_processed).toBeLessThan(BIG_ROWS);
    await setPace(sql, 0);

    const { final, events } = await followed;
    expect(final).toMatchObject({ status: 'COMPLETED', rowsProcessed: BIG_ROWS, rowsImported: BIG_ROWS, rowsFailed: 0 });
    expect(events).toBeGreaterThan(2);
    const done = await waitForEnd(jobId);
    expect(done).toMatchObject({ status: 'COMPLETED', rows_imported: BIG_ROWS, attempt: 2 });
    expect(await lineCheck(sql, jobId)).toEqual(exactLines(BIG_ROWS));
    expect(await contentChecksum(sql, jobId)).toBe(bigChecksum);
    const finisher = [b, c].find((s) => s.logs().some((l) => l.msg === 'job resumed' && l.jobId === jobId && Number(l.from) > 0));
    expect(finisher, 'B or C resumed the job from A\'s checkpoint').toBeDefined();
    console.info(`A killed at row ${atKill.rows_processed} of ${BIG_ROWS}; ${finisher!.label} finished the job; C's subscriber saw ${events} updates`);
  }, 180_000);

  it('a job cancelled through an instance that does not run it stops', async () => {
    await setPace(sql, 300);
    const key = await createKeyIn(sql, 'fleet-cancel');
    const jobId = jobUuid((await uploadFile({ url: fleet[1].url, key, file: small, kind: 'EVENTS' })).jobId);
    const runner = await waitFor('a runner to commit a batch', async () => ((await jobState(sql, jobId)).rows_processed > 0 ? runnerOf(jobId) : undefined), { timeoutMs: 30_000, onTimeout: outputs });
    const other = fleet.find((s) => !s.exitInfo() && s !== runner)!;
    const answer = await fetch(other.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: 'mutation($id: ID!) { cancelJob(id: $id) { job { status } userErrors { code } } }', variables: { id: globalId(jobId) } }),
    });
    expect(answer.status).toBe(200);
    const ended = await waitForEnd(jobId, 20_000);
    expect(ended.status).toBe('CANCELLED');
    expect(ended.rows_processed).toBeLessThan(SMALL_ROWS);
    await waitFor('the runner to stop the job', async () => runner!.logs().some((l) => l.msg === 'job stopped' && l.jobId === jobId), { timeoutMs: 5000, onTimeout: outputs });
    // Stopped for good: no batch lands after the cancel.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await jobState(sql, jobId)).rows_processed).toBe(ended.rows_processed);
    await setPace(sql, 0);
  }, 60_000);

  it('the store unreachable for 10 s mid-import: the read is retried with backoff and the job completes, every line once', async () => {
    await setPace(sql, 150);
    const key = await createKeyIn(sql, 'fleet-outage');
    const jobId = jobUuid((await uploadFile({ url: fleet[2].url, key, file: small, kind: 'EVENTS' })).jobId);
    await waitFor('a fifth of the rows committed', async () => (await jobState(sql, jobId)).rows_processed >= SMALL_ROWS / 5, { timeoutMs: 30_000, intervalMs: 20, onTimeout: outputs });
    const runner = (await runnerOf(jobId))!;
    await proxy.down();
    const downAt = Date.now();
    await setPace(sql, 0);
    // Every instance reports the store as the dependency that failed.
    const ready = await fetch(fleet[2].url.replace(/\/graphql$/, '/readyz'));
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(/spool store/);
    await waitFor('the runner to retry its read', async () => runner.logs().some((l) => l.msg === 'spool store unavailable; retrying the read' && l.jobId === jobId), { timeoutMs: OUTAGE_MS, onTimeout: outputs });
    const paused = await jobState(sql, jobId);
    expect(paused.status).toBe('RUNNING');
    await new Promise((r) => setTimeout(r, OUTAGE_MS - (Date.now() - downAt)));
    // Paused, not failed: whatever was parsed before the outage is committed, then nothing moves.
    const duringOutage = await jobState(sql, jobId);
    expect(duringOutage.status).toBe('RUNNING');
    expect(duringOutage.rows_processed).toBeLessThan(SMALL_ROWS);
    await proxy.up();

    const done = await waitForEnd(jobId);
    expect(done).toMatchObject({ status: 'COMPLETED', rows_imported: SMALL_ROWS, rows_failed: 0, attempt: 1 });
    expect(await lineCheck(sql, jobId)).toEqual(exactLines(SMALL_ROWS));
    expect(await contentChecksum(sql, jobId)).toBe(smallChecksum);
    expect((await fetch(fleet[2].url.replace(/\/graphql$/, '/readyz'))).status).toBe(200);
    const retries = runner.logs().filter((l) => l.msg === 'spool store unavailable; retrying the read' && l.jobId === jobId);
    console.info(`store down at row ${paused.rows_processed} for ${OUTAGE_MS} ms; ${runner.label} retried its read ${retries.length} times, the last after ${retries.at(-1)?.delayMs} ms`);
  }, 90_000);

  it('leaves no object or multipart upload of ended jobs in the store, and no session idle in a transaction', async () => {
    await waitFor('the ended jobs\' objects to go', async () => (await storeHolds()).objects === 0, { timeoutMs: 15_000 });
    expect(await storeHolds()).toEqual({ objects: 0, uploads: 0 });
    const sessions = await sql<{ state: string; n: number }[]>`
      select state, count(*)::int as n from pg_stat_activity
      where datname = ${databaseName(db.url!)} and state like 'idle in transaction%' group by state`;
    expect(sessions).toEqual([]);
  }, 30_000);
});
