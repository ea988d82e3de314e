/**
 * An upload whose database goes away while its file arrives: the request is answered within a
 * bounded time (503 SERVICE_UNAVAILABLE, Retry-After), leaves no job and no spool file, and once
 * the database is back the same upload sent again imports every row once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './support/database.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobCount, jobUuid, spoolFiles, waitForJob } from './support/jobs.js';
import { waitFor } from './support/importIntegrity.js';
import { sendMultipart, uploadInPieces } from './support/multipart.js';
import { startUrlProxy, type UrlProxy } from './support/tcpProxy.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const run = requirePostgres('the upload-during-outage test (a proxy in front of a real Postgres)');
let db: TestDatabase;
let proxy: UrlProxy;
let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  if (!run) return;
  db = await createTestDatabase();
  proxy = await startUrlProxy(db.url!);
  // The service reaches its database only through the proxy, which the test takes away and brings back.
  t = await startTestApp({ databaseUrl: proxy.url, databaseDirectUrl: db.directUrl, batchSize: 1000 });
  client = await t.clientFor('outage');
});
afterAll(async () => {
  await proxy?.up().catch(() => {});
  await t?.close().catch(() => {});
  await proxy?.close();
  await db?.drop();
});

const ROWS = 12_000;

/**
 * The answer must come well within what clients and proxies commonly wait (60 s): here, the rest
 * of the upload (about 3 s) and one wait between attempts to connect (at most 2 s), with room for
 * a busy machine.
 */
const ANSWER_BOUND_MS = 12_000;
/** Back, the database is used again within one wait between attempts to connect, with the same room. */
const BACK_BOUND_MS = 8_000;

describe.runIf(run)('an upload while the database goes away', () => {
  it('is answered 503 within the bound, leaves no job nor file, and imports every row once when sent again', async () => {
    const csv = Buffer.from(eventsCsv(manyEvents(ROWS)));
    expect(csv.length).toBeGreaterThan(2 << 20);
    const pieces = uploadInPieces(csv, 'events.csv', 30);

    // Sent slowly (about 4 s), the database cut a second in: mid-upload.
    const answer = sendMultipart(t.url, { key: client.key, pieces, pauseMs: 130, timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 1000));
    await proxy.down();
    const cutAt = Date.now();
    const { status, json, headers } = await answer;
    const waitedMs = Date.now() - cutAt;

    expect(status).toBe(503);
    expect(json?.errors?.[0]).toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    expect(headers['retry-after']).toBeDefined();
    expect(waitedMs).toBeLessThan(ANSWER_BOUND_MS);
    // The spooled file goes with the refused upload, at once (not left to the hourly sweep).
    expect(await spoolFiles(t.dataDir)).toEqual([]);

    await proxy.up();
    await waitFor('the service to reach its database again', async () => (await fetch(t.url.replace(/\/graphql$/, '/readyz'))).status === 200, { timeoutMs: BACK_BOUND_MS, intervalMs: 200 });
    expect(await jobCount(client)).toBe(0); // no job half-created
    // The reservation goes once the database is back, well before it would expire by itself.
    await waitFor('the upload\'s reservation to be deleted', async () =>
      (await t.app.db.query<{ n: number }>('select count(*)::int as n from upload_reservations'))[0].n === 0, { timeoutMs: 5_000, intervalMs: 100 });

    const again = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'events.csv', content: csv });
    expect(again.status).toBe(200);
    expect(again.body.data?.uploadImport.userErrors).toEqual([]);
    const job = await waitForJob(client, again.body.data!.uploadImport.job!.id, 120_000);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS, rowsFailed: 0 });
    const [stored] = await t.app.db.query<{ n: number; lines: number }>(
      'select count(*)::int as n, count(distinct line)::int as lines from events where job_id = $1', [jobUuid(job.id)]);
    expect(stored).toEqual({ n: ROWS, lines: ROWS });
    expect(await jobCount(client)).toBe(1);
  }, 240_000);
});
