/**
 * The service behind a transaction-mode pooler: `npm run test:pooled` points DATABASE_URL at
 * PgBouncer (scripts/pgbouncer.sh) and DATABASE_DIRECT_URL straight at Postgres. There, every
 * transaction may run on another server connection: nothing may rely on a session (a startup
 * parameter, a named prepared statement, a session-lived temp table, LISTEN).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobProgressDocument, UploadImportDocument, type JobProgressSubscription } from '../src/generated/gql/graphql.js';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv, EVENT_COLUMNS, type EventRow } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, testSettings, type TestApp } from './support/testApp.js';

const direct = process.env.DATABASE_DIRECT_URL;
if (!process.env.DATABASE_URL || !direct || direct === process.env.DATABASE_URL) {
  // Only vitest.pooled.config.ts runs this file; run by hand, it says what it needs instead of passing.
  throw new Error('pooledPostgres.test.ts needs DATABASE_URL through a transaction-mode pooler and DATABASE_DIRECT_URL straight to Postgres (npm run test:pooled)');
}

const LEASE_MS = 20_000;

async function upload(client: GraphQLTestClient, name: string, content: string): Promise<string> {
  const { status, body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name, content });
  expect(status).toBe(200);
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  return body.data!.uploadImport.job!.id;
}

/** `n` events whose event_id repeats every third row (e-0, e-1, e-1, e-3, e-4, e-4, ...): n/3 duplicates in the file. */
function keyedEvents(n: number, tenant: string): EventRow[] {
  return Array.from({ length: n }, (_, i) => eventRow(i, { event_id: `e-${i % 3 === 2 ? i - 1 : i}`, source: tenant }));
}

describe('behind a transaction-mode pooler (DATABASE_URL through PgBouncer)', () => {
  let t: TestApp;
  let sql: postgres.Sql;
  let databaseName: string;

  beforeAll(async () => {
    t = await startTestApp({ batchSize: 300, progressIntervalMs: 50, workerConcurrency: 2, leaseMs: LEASE_MS });
    sql = postgres(t.databaseDirectUrl!, { max: 1, onnotice: () => {} });
    databaseName = new URL(t.databaseDirectUrl!).pathname.slice(1);
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await t?.close();
  });

  it('two tenants import keyed rows at once, their batches interleaving on the pooled connections: each skips exactly its own duplicates', async () => {
    const rows = 3000;
    const [a, b] = await Promise.all([t.clientFor('pool-a'), t.clientFor('pool-b')]);
    const columns = [...EVENT_COLUMNS, 'event_id'];
    // The same event_ids in both files: dedup is per tenant, so both import them all once.
    const [jobA, jobB] = await Promise.all([
      upload(a, 'a.csv', eventsCsv(keyedEvents(rows, 'pool-a'), columns)),
      upload(b, 'b.csv', eventsCsv(keyedEvents(rows, 'pool-b'), columns)),
    ]);
    const [doneA, doneB] = await Promise.all([waitForJob(a, jobA), waitForJob(b, jobB)]);
    for (const done of [doneA, doneB]) {
      expect(done).toMatchObject({ status: 'COMPLETED', rowsProcessed: rows, rowsImported: rows - rows / 3, rowsDuplicate: rows / 3, rowsFailed: 0 });
    }
    const stored = await sql<{ source: string; n: number; ids: number }[]>`
      select source, count(*)::int as n, count(distinct event_id)::int as ids from events group by source order by source`;
    expect(stored).toEqual([
      { source: 'pool-a', n: rows - rows / 3, ids: rows - rows / 3 },
      { source: 'pool-b', n: rows - rows / 3, ids: rows - rows / 3 },
    ]);
  });

  it('jobProgress on another instance follows an import as it runs: that instance LISTENs on the direct URL, the runner NOTIFYs through the pooler', async () => {
    // B runs no jobs and re-reads a job only when notified (its own poll is a minute away).
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-pooled-b-'));
    const b = await buildApp(loadConfig({}, {
      ...testSettings(t.databaseUrl, dataDir, t.databaseDirectUrl), workerConcurrency: 0, progressIntervalMs: 60_000,
    }));
    try {
      const bUrl = `${await b.start()}/graphql`;
      const onA = await t.clientFor('pool-progress');
      const onB = new GraphQLTestClient(bUrl, bUrl.replace(/^http/, 'ws'), onA.key);
      const id = await upload(onA, 'progress.csv', eventsCsv(Array.from({ length: 6000 }, (_, i) => eventRow(i))));
      const snapshots: JobProgressSubscription['jobProgress'][] = [];
      await onB.subscribe(JobProgressDocument, { id }, (data) => snapshots.push(data.jobProgress));
      expect(snapshots.at(-1)).toMatchObject({ status: 'COMPLETED', rowsImported: 6000 });
      const between = snapshots.filter((s) => s.status === 'RUNNING' && s.rowsProcessed > 0 && s.rowsProcessed < 6000);
      expect(between.length).toBeGreaterThan(0);
    } finally {
      await b.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  }, 20_000);

  it('each transaction carries the frozen-runner timeout, and no session is left idle in transaction', async () => {
    const [setting] = await t.app.db.transaction((tx) =>
      tx.query<{ setting: string }>("select setting from pg_settings where name = 'idle_in_transaction_session_timeout'"));
    expect(Number(setting.setting)).toBe(LEASE_MS);
    const idle = await sql<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where datname = ${databaseName} and state like 'idle in transaction%'`;
    expect(idle[0].n).toBe(0);
  });
});
