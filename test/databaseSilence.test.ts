/**
 * A database that stops answering without closing anything (its host frozen, a network path or
 * firewall that drops packets without a reset): requests are answered 503 within a few seconds,
 * as when the database is away, instead of waiting for ever; once it answers again the service
 * recovers by itself; and an import running through it completes with every row once.
 *
 * The proxy freezes every connection, then thaws the path but not the connections it froze, which
 * stay open and silent for good, as behind a firewall or NAT that lost their state: whatever
 * waited on them is only freed by the service giving up on them (DATABASE_ANSWER_TIMEOUT_MS).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { JobsDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import { loadConfig } from '../src/config.js';
import type { GraphQLTestClient } from './support/client.js';
import { createTestDatabase, requirePostgres, sessionUrl, type TestDatabase } from './support/database.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { exactLines, installPace, jobState, lineCheck, openSql, waitFor, type Sql } from './support/importIntegrity.js';
import { jobUuid } from './support/jobs.js';
import { startUrlProxy, type UrlProxy } from './support/tcpProxy.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const run = requirePostgres('the silent-database test (a proxy in front of a real Postgres)');
let db: TestDatabase;
let proxy: UrlProxy;
let t: TestApp;
let client: GraphQLTestClient;
let sql: Sql;

const ANSWER_TIMEOUT_MS = 1500;
/**
 * Two bounds (a request beyond the pool's connections waits for one, which cannot be made either),
 * the wait before the next attempt to connect (at most 2 s), and room for a busy machine.
 */
const ANSWERED_WITHIN_MS = 8000;

beforeAll(async () => {
  if (!run) return;
  db = await createTestDatabase();
  proxy = await startUrlProxy(db.url!);
  t = await startTestApp({
    databaseUrl: proxy.url,
    databaseDirectUrl: db.directUrl,
    databaseAnswerTimeoutMs: loadConfig({ DATABASE_ANSWER_TIMEOUT_MS: String(ANSWER_TIMEOUT_MS) }).databaseAnswerTimeoutMs,
    // A batch's transaction left on a frozen connection holds the job row until Postgres ends it
    // for idling this long (idle_in_transaction_session_timeout): short, for the import to go on
    // soon, but with room in the batch's retries (4 leases): freeze 3 s + the bound 1.5 s + this
    // 5 s, against 20 s. At 2 s (8 s of retries) a loaded CI machine ran out of them (FAILED).
    leaseMs: 5000,
    batchSize: 500,
    // One runner: no other can take over a job whose runner is left waiting (after its lease), as
    // none can once every runner of the fleet waits on a silent connection.
    workerConcurrency: 1,
  });
  client = await t.clientFor('silence');
  sql = openSql(sessionUrl(db));
});
afterEach(() => proxy?.thaw());
afterAll(async () => {
  await t?.close().catch(() => {});
  await proxy?.close();
  await sql?.end();
  await db?.drop();
});

/** Fails instead of waiting for ever, so that a request left hanging shows as such. */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer!: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** When each of the service's sessions on its database began: a session closed and opened again shows as a new one. */
const sessionStarts = async () => (await sql<{ started: Date }[]>`
  select backend_start as started from pg_stat_activity
  where datname = current_database() and application_name = 'bulk-import' order by 1`).map((r) => r.started.getTime());

describe.runIf(run)('a database that stops answering', () => {
  it('leaves connections alone while they wait for nothing: idle ones of the pool, the one listening', async () => {
    const before = await sessionStarts();
    expect(before.length).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 3 * ANSWER_TIMEOUT_MS));
    expect(await sessionStarts()).toEqual(before);
  });

  it('answers requests 503 "try again" within seconds while it is silent, not never, and serves them again once it answers, without a restart', async () => {
    expect((await client.request(JobsDocument, { first: 1 })).status).toBe(200);
    proxy.freeze();

    // More at once than the pool has connections (10): those beyond wait for a connection, which
    // cannot be made either.
    const askedAt = Date.now();
    const during = await within(20_000, 'jobs while the database is silent', Promise.all(Array.from({ length: 12 }, () => client.request(JobsDocument, { first: 1 }))));
    expect(Date.now() - askedAt).toBeLessThan(ANSWERED_WITHIN_MS);
    for (const answer of during) {
      expect(answer.status).toBe(503);
      expect(answer.body.errors?.[0]).toMatchObject({ message: 'The database is unavailable for a moment; try again shortly', extensions: { code: 'SERVICE_UNAVAILABLE' } });
    }
    const ready = await within(20_000, '/readyz while the database is silent', fetch(t.url.replace(/\/graphql$/, '/readyz')));
    expect(ready.status).toBe(503);

    proxy.thaw();
    await within(20_000, 'jobs once the database answers again', waitFor('jobs to be answered 200', async () =>
      (await client.request(JobsDocument, { first: 1 })).status === 200, { timeoutMs: 15_000, intervalMs: 200 }));
    // However many connections the pool opens now, none is one left silent: every request is answered.
    const answers = await within(20_000, 'twelve requests at once', Promise.all(Array.from({ length: 12 }, () => client.request(JobsDocument, { first: 1 }))));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
  });

  it('completes an import that was running when the database went silent, with every row once', async () => {
    const ROWS = 10_000;
    // A pause before each batch's COMMIT (20 batches), so that the freeze comes mid-import.
    await installPace(sql, 100);
    const upload = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'events.csv', content: eventsCsv(manyEvents(ROWS)) });
    expect(upload.body.data?.uploadImport.userErrors).toEqual([]);
    const jobId = jobUuid(upload.body.data!.uploadImport.job!.id);
    await waitFor('the import to commit a batch', async () => (await jobState(sql, jobId)).checkpoint_line > 1, { timeoutMs: 30_000 });

    proxy.freeze();
    await new Promise((r) => setTimeout(r, 3000));
    expect((await jobState(sql, jobId)).status).toBe('RUNNING');
    proxy.thaw();

    const done = await waitFor('the import to end', async () => {
      const state = await jobState(sql, jobId);
      return ['COMPLETED', 'FAILED', 'CANCELLED'].includes(state.status) && state;
    }, { timeoutMs: 60_000, intervalMs: 200 });
    expect(done).toMatchObject({ status: 'COMPLETED', rows_imported: ROWS, rows_failed: 0 });
    expect(await lineCheck(sql, jobId)).toEqual(exactLines(ROWS));
  }, 90_000);
});
