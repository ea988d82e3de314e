/**
 * The server's own disk running out under an upload, before the spool's budget (SPOOL_MAX_BYTES)
 * does: the spool folder is on a real 2 MiB tmpfs it shares with another file (a log, a database,
 * another service), which takes most of it. Each way bytes of an upload reach the local disk (an
 * upload spooled as sent, one decompressed into the spool, an XLSX sheet kept in a scratch file, a
 * staged part, a staged file decoded at import) is answered as the server's condition: 503
 * SPOOL_FULL naming disk space, never the file's fault, no path; nothing of it is left, no job is
 * made, the real error is in the log at error level; and once the other file is gone the same
 * upload goes through on the same server.
 *
 * Mounting needs root (CI runs the tests as root on Linux): without it this file fails, it does not skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/apiKeys.js';
import { BulkImportClient } from '../src/client/bulkImportClient.js';
import { CreateStagedUploadDocument, ImportFromUrlDocument, ImportStagedUploadDocument, StagedUploadDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import { GraphQLTestClient, type HttpResult } from './support/client.js';
import { EVENT_COLUMNS, eventRow, eventsCsv, manyEvents } from './support/events.js';
import { jobCount, waitForJob } from './support/jobs.js';
import { memoryLogger, startOwnApp, type OwnApp } from './support/ownApp.js';
import { requireS3, s3Store } from './support/s3Store.js';
import { startTestApp } from './support/testApp.js';
import { excelOrderWorkbook } from './support/zipArchive.js';
import { sendMultipart, uploadInPieces } from './support/multipart.js';

const MiB = 1 << 20;
/** What the other file leaves of the disk: less than any of the uploads below needs. */
const OTHER_FILE_BYTES = 1.5 * MiB;

let disk: string;
let spool: string;
let other: string;
let t: OwnApp;
let client: GraphQLTestClient;
const memory = memoryLogger('warn');

beforeAll(async () => {
  disk = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk], { stdio: 'pipe' });
  } catch (err) {
    await fs.rmdir(disk);
    disk = ''; // nothing to unmount
    throw new Error(`This test needs a real full disk: mounting a 2 MiB tmpfs failed (run the tests as root on Linux, as CI does): ${(err as Error).message}`);
  }
  spool = path.join(disk, 'spool');
  other = path.join(disk, 'other-service.bin');
  // The spool's own budget is far above the disk's room: the disk is what runs out.
  t = await startOwnApp({
    spoolDir: spool, spoolMaxBytes: 1 << 30, spoolRetentionMs: 0, spoolSpareFiles: 0,
    allowInsecureSourceUrls: true, allowPrivateSourceAddresses: true, // importFromUrl from a server of the test's own
  }, { log: memory.log });
  client = new GraphQLTestClient(t.url, t.wsUrl, await createKey(t.app.db, 'acme'));
});

afterAll(async () => {
  await t?.close();
  if (disk) {
    execFileSync('umount', [disk]);
    await fs.rmdir(disk);
  }
});

/** The other file takes all but half a MiB of the disk. */
beforeEach(async () => {
  await fs.writeFile(other, Buffer.alloc(OTHER_FILE_BYTES, 1));
  logFrom = memory.text().length;
});
let logFrom = 0;
/** The errors the server logged during this test that carry the disk's own error. */
const loggedDiskErrors = () => memory.text().slice(logFrom).split('\n').filter((line) => line.includes('"level":50') && line.includes('ENOSPC'));

const freeRoom = () => fs.rm(other);
const spoolNames = async () => (await fs.readdir(spool).catch(() => [] as string[])).sort();
const reservations = async () => (await t.app.db.query<{ n: number }>('select count(*)::int as n from upload_reservations'))[0].n;

/** What a client is told when the server's disk is full: a 503 to try again later, naming disk space, no path. */
function expectDiskFull(answer: HttpResult<unknown>) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(503);
  const [error] = answer.body.errors ?? [];
  expect(error).toMatchObject({ extensions: { code: 'SPOOL_FULL' } });
  expect(error.message).toMatch(/out of disk space/);
  expect(error.message).not.toContain(disk);
  expect(error.message).not.toMatch(/ENOSPC|\bat .*:\d+/);
}

/** The warnings of this test that a file of declared size was refused before its first byte. */
const loggedUpFront = () => memory.text().slice(logFrom).split('\n').filter((line) => line.includes('"level":40') && line.includes('refused before its first byte'));

/**
 * Nothing of the refused upload is left on the disk or in the database, and the log says why: the
 * disk's real error (written until the disk was full), or, for a file that declared its size, that
 * it was refused before its first byte.
 */
async function expectNothingLeft(jobsBefore: number, filesBefore: string[] = [], refused: 'as written' | 'up front' = 'as written') {
  await expect.poll(spoolNames, { timeout: 5000 }).toEqual(filesBefore);
  expect(await reservations()).toBe(0);
  expect(await jobCount(client)).toBe(jobsBefore);
  const logged = refused === 'up front' ? loggedUpFront() : loggedDiskErrors();
  expect(logged.length, memory.text().slice(logFrom)).toBeGreaterThan(0);
}

const upload = (name: string, content: string | Buffer) =>
  client.upload(UploadImportDocument, { input: { kind: 'EVENTS', allowDuplicateFile: true } }, { name, content });

async function expectImported(answer: Awaited<ReturnType<typeof upload>>, rows: number) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.data!.uploadImport.userErrors).toEqual([]);
  const job = await waitForJob(client, answer.body.data!.uploadImport.job!.id);
  expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: rows });
}

describe('an upload over HTTP multipart', () => {
  const rows = 5000; // over 1 MiB of CSV
  const csv = eventsCsv(manyEvents(rows));

  it('a CSV larger than the disk\'s room, its size declared (Content-Length): 503 SPOOL_FULL (out of disk space) before a byte is written; it goes through once there is room', async () => {
    expect(csv.length).toBeGreaterThan(MiB);
    const before = await jobCount(client);
    expectDiskFull(await upload('events.csv', csv));
    await expectNothingLeft(before, [], 'up front');
    expect(loggedDiskErrors()).toEqual([]); // nothing was written, so no write failed
    await freeRoom();
    await expectImported(await upload('events.csv', csv), rows);
  });

  it('the same CSV sent chunked (no size declared): refused as the disk fills, the same answer, nothing left', async () => {
    const before = await jobCount(client);
    const answer = await sendMultipart(`${t.url}/graphql`, {
      key: client.key, chunked: true, timeoutMs: 30_000,
      pieces: uploadInPieces(Buffer.from(csv), 'events.csv', 8),
    });
    expectDiskFull({ status: answer.status, body: answer.json } as HttpResult<unknown>);
    await expectNothingLeft(before);
    await freeRoom();
    await expectImported(await upload('events.csv', csv), rows);
  });

  it('a gzipped CSV whose decompressed bytes do not fit: the same, not a damaged file', async () => {
    const before = await jobCount(client);
    const gz = gzipSync(csv);
    expect(gz.length).toBeLessThan(MiB / 4);
    expectDiskFull(await upload('events.csv.gz', gz));
    await expectNothingLeft(before);
    await freeRoom();
    await expectImported(await upload('events.csv.gz', gz), rows);
  });

  it('an XLSX whose sheet, kept in a scratch file while it waits for the shared strings, does not fit: the same, not INVALID_FILE', async () => {
    const before = await jobCount(client);
    const book = await workbookWithLargeSheet();
    expect(book.length).toBeLessThan(MiB / 4);
    expectDiskFull(await upload('events.xlsx', book));
    await expectNothingLeft(before);
    await freeRoom();
    await expectImported(await upload('events.xlsx', book), 2);
  });

  it('a disk gone read-only (EROFS): 503 SERVICE_UNAVAILABLE naming the disk, no path; uploads go through once it is writable again', async () => {
    const before = await jobCount(client);
    const small = eventsCsv(manyEvents(10, 50_000));
    execFileSync('mount', ['-o', 'remount,ro', disk]);
    let answer: Awaited<ReturnType<typeof upload>>;
    try {
      answer = await upload('events.csv', small);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', disk]);
    }
    expect(answer.status, JSON.stringify(answer.body)).toBe(503);
    const [error] = answer.body.errors ?? [];
    expect(error).toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    expect(error.message).toMatch(/disk/);
    expect(error.message).not.toContain(disk);
    expect(error.message).not.toMatch(/EROFS/);
    expect(memory.text().slice(logFrom)).toMatch(/"level":50.*EROFS/);
    expect(await spoolNames()).toEqual([]);
    expect(await reservations()).toBe(0);
    expect(await jobCount(client)).toBe(before);
    await expectImported(await upload('events.csv', small), 10);
  });

  it('a small file fits beside the other one all along', async () => {
    await expectImported(await upload('events.csv', eventsCsv(manyEvents(10))), 10);
  });
});

/** A sheet of about 1 MiB (of an element no reader makes a row of) that zips to almost nothing, in Excel's order: it waits in a scratch file. */
function workbookWithLargeSheet(): Promise<Buffer> {
  const sheet = [[...EVENT_COLUMNS], ...[1, 2].map((i) => EVENT_COLUMNS.map((c) => eventRow(i)[c] ?? ''))];
  return excelOrderWorkbook(sheet, { chunk: '<x/>'.repeat(16384), times: 16 });
}

describe.runIf(requireS3('the S3 spool\'s case'))('an S3 spool, whose workbooks\' scratch files are on the local disk', () => {
  it('an XLSX whose waiting sheet does not fit on the local disk: 503 SPOOL_FULL (out of disk space), nothing left; imported once there is room', async () => {
    const store = s3Store();
    const scratchDir = path.join(disk, 'local');
    const s3 = await startTestApp({ spoolS3: { bucket: store.bucket, prefix: `disk-full-${Date.now()}/` }, s3Endpoint: store.endpoint, spoolDir: scratchDir, spoolMaxBytes: 1 << 30 });
    try {
      const s3Client = await s3.clientFor('s3-acme');
      const book = await workbookWithLargeSheet();
      const send = () => s3Client.upload(UploadImportDocument, { input: { kind: 'EVENTS', allowDuplicateFile: true } }, { name: 'events.xlsx', content: book });
      expectDiskFull(await send());
      expect(await fs.readdir(scratchDir).catch(() => [])).toEqual([]);
      expect(await jobCount(s3Client)).toBe(0);
      await freeRoom();
      const fits = await send();
      expect(fits.body.data?.uploadImport.userErrors, JSON.stringify(fits.body)).toEqual([]);
      expect(await waitForJob(s3Client, fits.body.data!.uploadImport.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 2 });
    } finally {
      await s3.close();
    }
  });
});

describe('importFromUrl', () => {
  const rows = 5000;
  const csv = eventsCsv(manyEvents(rows, 200_000));
  let source: http.Server;
  let url: string;
  beforeAll(async () => {
    source = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/csv' }).end(csv));
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(source.address() as { port: number }).port}/events.csv`;
  });
  afterAll(() => new Promise<void>((resolve) => { source?.close(() => resolve()); }));

  it('a download larger than the disk\'s room: 503 SPOOL_FULL (out of disk space), not the source\'s fault; it goes through once there is room', async () => {
    const before = await jobCount(client);
    const importIt = () => client.request(ImportFromUrlDocument, { input: { url, kind: 'EVENTS', allowDuplicateFile: true } });
    expectDiskFull(await importIt());
    await expectNothingLeft(before);
    await freeRoom();
    const answer = await importIt();
    expect(answer.body.data?.importFromUrl.userErrors, JSON.stringify(answer.body)).toEqual([]);
    expect(await waitForJob(client, answer.body.data!.importFromUrl.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: rows });
  });
});

/** A part PUT: its status, Retry-After and text. */
function putPart(url: string, body: Buffer): Promise<{ status: number; retryAfter: string | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PUT', agent: false, headers: { 'content-length': String(body.length) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], text }));
    });
    req.on('error', reject);
    // Unanswered, it would hang: say so.
    req.setTimeout(15_000, () => { req.destroy(); reject(new Error('the part PUT had no answer within 15 s')); });
    req.end(body);
  });
}

describe('a staged upload on the folder spool', () => {
  const rows = 5000;
  const csv = Buffer.from(eventsCsv(manyEvents(rows, 100_000)));

  async function create(file: Buffer, filename: string) {
    const { createStagedUpload } = await client.data(CreateStagedUploadDocument, { input: { filename, fileSize: file.length, allowDuplicateFile: true } });
    expect(createStagedUpload.userErrors).toEqual([]);
    return createStagedUpload.stagedUpload!;
  }
  const importIt = (id: string) => client.request(ImportStagedUploadDocument, { input: { stagedUploadId: id, kind: 'EVENTS', allowDuplicateFile: true } });

  it('one the disk cannot hold is refused as it is created (503 SPOOL_FULL, out of disk space), no file made; created once there is room', async () => {
    const created = () => client.request(CreateStagedUploadDocument, { input: { filename: 'events.csv', fileSize: csv.length, allowDuplicateFile: true } });
    expectDiskFull(await created());
    expect(await spoolNames()).toEqual([]);
    expect(loggedUpFront().length, memory.text().slice(logFrom)).toBeGreaterThan(0);
    await freeRoom();
    expect((await created()).body.data?.createStagedUpload.userErrors).toEqual([]);
  });

  it('a part that does not fit (the room taken after the upload was created): 503 naming disk space, to send again; the part stays missing; sent again once there is room, it imports', async () => {
    const before = await jobCount(client);
    // Created while the disk has room (its file takes no blocks until written), then another file takes it.
    await freeRoom();
    const staged = await create(csv, 'events.csv');
    await fs.writeFile(other, Buffer.alloc(OTHER_FILE_BYTES, 1));
    expect(staged.parts).toHaveLength(1);
    const refused = await putPart(staged.parts[0].url, csv);
    expect(refused.status, refused.text).toBe(503);
    expect(refused.retryAfter).toBeDefined();
    expect(refused.text).toMatch(/out of disk space/);
    expect(refused.text).not.toContain(disk);
    expect(refused.text).not.toMatch(/ENOSPC/);
    const { stagedUpload } = await client.data(StagedUploadDocument, { id: staged.id });
    expect(stagedUpload!.parts[0].received).toBe(false);
    expect(await jobCount(client)).toBe(before);
    expect(loggedDiskErrors().length, memory.text().slice(logFrom)).toBeGreaterThan(0);

    await freeRoom();
    expect((await putPart(staged.parts[0].url, csv)).status).toBe(200);
    const imported = await importIt(staged.id);
    expect(imported.body.data?.importStagedUpload.userErrors, JSON.stringify(imported.body)).toEqual([]);
    expect(await waitForJob(client, imported.body.data!.importStagedUpload.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: rows });
  });

  it('a gzipped staged file whose decoded copy does not fit: 503 SPOOL_FULL at import, not held against the file; imported once there is room', async () => {
    const gz = gzipSync(csv);
    const staged = await create(gz, 'events.csv.gz');
    expect((await putPart(staged.parts[0].url, gz)).status).toBe(200);
    const before = await jobCount(client);
    const files = await spoolNames();
    expectDiskFull(await importIt(staged.id));
    await expectNothingLeft(before, files);
    await freeRoom();
    // Imported again at once: a refusal for the server's disk holds nothing against the upload.
    const imported = await importIt(staged.id);
    expect(imported.body.data?.importStagedUpload.userErrors, JSON.stringify(imported.body)).toEqual([]);
    expect(await waitForJob(client, imported.body.data!.importStagedUpload.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: rows });
  });

  it('the client library (and so the CLI) says why a part was refused, in the server\'s words', async () => {
    await freeRoom();
    const file = path.join(os.tmpdir(), `disk-full-client-${process.pid}.csv`);
    await fs.writeFile(file, csv);
    try {
      const api = new BulkImportClient({ url: t.url, key: client.key! });
      // The room goes once the upload exists (its file takes no blocks until written).
      const sending = api.uploadStaged(file, { kind: 'EVENTS', allowDuplicateFile: true }, {
        attempts: 1,
        onSent: (sent) => { if (sent === 0 && !existsSync(other)) writeFileSync(other, Buffer.alloc(OTHER_FILE_BYTES, 1)); },
      });
      await expect(sending).rejects.toThrow(/^Part 1 could not be sent after 1 attempts \(last: HTTP 503\): The server is out of disk space for uploads at the moment; try again later$/);
    } finally {
      await fs.rm(file, { force: true });
    }
  });
});
