/**
 * A workbook whose sheet waits for its shared strings (Excel's order) asks the database for spool
 * room as the sheet grows. If the database goes away meanwhile, that is the server's condition:
 * the answer is 503 SERVICE_UNAVAILABLE, as for any upload during an outage, not a 200 saying the
 * client's workbook cannot be read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLTestClient } from './support/client.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './support/database.js';
import { EVENT_COLUMNS, eventRow } from './support/events.js';
import { spoolFiles } from './support/jobs.js';
import { sendMultipart, uploadInPieces } from './support/multipart.js';
import { startUrlProxy, type UrlProxy } from './support/tcpProxy.js';
import { startTestApp, type TestApp } from './support/testApp.js';
import { excelOrderWorkbook } from './support/zipArchive.js';

const run = requirePostgres('the workbook-during-outage test (a proxy in front of a real Postgres)');
const MB = 1_000_000;
let db: TestDatabase;
let proxy: UrlProxy;
let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  if (!run) return;
  db = await createTestDatabase();
  proxy = await startUrlProxy(db.url!);
  // A small MAX_UNCOMPRESSED_SIZE makes the waiting sheet ask for room a few MB at a time.
  t = await startTestApp({ databaseUrl: proxy.url, databaseDirectUrl: db.directUrl, maxUncompressedSize: 64 * MB, spoolMaxBytes: 200 * MB });
  client = await t.clientFor('outage');
});
afterAll(async () => {
  await proxy?.up().catch(() => {});
  await t?.close().catch(() => {});
  await proxy?.close();
  await db?.drop();
});

describe.runIf(run)('a workbook whose sheet waits while the database goes away', () => {
  it('is answered 503 SERVICE_UNAVAILABLE, not INVALID_FILE, and leaves no file', async () => {
    const rows = [[...EVENT_COLUMNS], ...[1, 2].map((i) => EVENT_COLUMNS.map((c) => eventRow(i)[c] ?? ''))];
    // 40 MiB of sheet XML, deflated to a few dozen KB: sent in slices, it unzips as it arrives.
    const workbook = await excelOrderWorkbook(rows, { chunk: '<x/>'.repeat(16384), times: 40 * 16 });
    const pieces = uploadInPieces(workbook, 'events.xlsx', 40);

    const answer = sendMultipart(t.url, { key: client.key, pieces, pauseMs: 100, timeoutMs: 120_000 });
    await new Promise((r) => setTimeout(r, 1000));
    await proxy.down();
    const { status, json } = await answer;

    expect(status, JSON.stringify(json)).toBe(503);
    expect(json?.errors?.[0]).toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    expect(await spoolFiles(t.dataDir)).toEqual([]);
  }, 60_000);
});
