/**
 * The limits on uploads are decided before the file is read: a declared size over the limit, a
 * tenant with an import queued or a file arriving, a spool without room are each answered while
 * the client is still sending, and nothing of the refused file reaches the spool. A chunked
 * upload is cut off at the limit. One tenant's parallel uploads never hold more than one file's
 * bytes on disk, and the per-tenant slot holds across two instances on one database.
 */
import http from 'node:http';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { CancelJobDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { EVENT_COLUMNS, eventRow, eventsCsv, manyEvents } from './support/events.js';
import { jobCount, spoolFiles, waitForJob } from './support/jobs.js';
import { closing, sendMultipart, startUpload, uploadHead, type MultipartAnswer } from './support/multipart.js';
import { startTestApp, testSettings, type TestApp } from './support/testApp.js';
import { excelOrderWorkbook } from './support/zipArchive.js';

const MB = 1_000_000;
const PIECE = 64 * 1024;

/** A CSV of about `bytes` bytes (EVENTS rows). */
const csvOfAbout = (bytes: number) => eventsCsv(manyEvents(Math.ceil(bytes / 270)));

/** An upload body in pieces of 64 KiB, for a client that sends it at the pace of `pauseMs` per piece. */
function slowUpload(content: string, filename = 'events.csv'): string[] {
  const pieces = [uploadHead(filename)];
  for (let at = 0; at < content.length; at += PIECE) pieces.push(content.slice(at, at + PIECE));
  pieces.push(`\r\n${closing()}`);
  return pieces;
}

const send = (url: string, key: string, pieces: string[], opts: { chunked?: boolean; pauseMs?: number } = {}) =>
  sendMultipart(url, { key, pieces, pauseMs: opts.pauseMs ?? 20, chunked: opts.chunked, stopWhenAnswered: true, timeoutMs: 30_000 });

/** The bytes of the uploads in the spool folder, spares aside. */
async function spoolBytes(dataDir: string): Promise<number> {
  let total = 0;
  for (const name of await spoolFiles(dataDir)) {
    const stat = await fs.stat(path.join(dataDir, 'spool', name)).catch(() => null);
    total += stat?.size ?? 0;
  }
  return total;
}

/** Samples the spool's size until stopped: the most it held meanwhile. */
function watchSpool(dataDir: string): { stop(): Promise<number> } {
  let watching = true;
  let most = 0;
  const loop = (async () => {
    while (watching) {
      most = Math.max(most, await spoolBytes(dataDir));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return { stop: async () => { watching = false; await loop; return most; } };
}

function userError(answer: MultipartAnswer): { code: string; message: string } | undefined {
  return answer.json?.data?.uploadImport?.userErrors?.[0];
}

describe('one tenant, one upload at a time (no workers: jobs stay QUEUED)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ maxFileSize: 8 * MB, workerConcurrency: 0 });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  const content = csvOfAbout(3 * MB);

  it('six parallel uploads of one tenant: one is spooled, five are refused while they send, and the spool never holds more than one file', async () => {
    const watch = watchSpool(t.dataDir);
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => send(t.url, client.key!, slowUpload(content, `part-${i}.csv`))));
    const most = await watch.stop();

    const queued = answers.filter((a) => a.json?.data?.uploadImport?.job);
    const refused = answers.filter((a) => userError(a)?.code === 'IMPORT_IN_PROGRESS');
    expect(queued, JSON.stringify(answers.map((a) => a.text))).toHaveLength(1);
    expect(refused).toHaveLength(5);
    for (const answer of refused) {
      expect(userError(answer)!.message).toMatch(/arriving/);
      expect(answer.answeredEarly, 'refused before the client had sent its file').toBe(true);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(Buffer.byteLength(content));
    expect(await jobCount(client)).toBe(1);
    expect(await spoolFiles(t.dataDir)).toHaveLength(1);
  });

  it('a tenant whose import is queued is refused while it sends, and nothing of the file is stored', async () => {
    const before = await spoolBytes(t.dataDir);
    const watch = watchSpool(t.dataDir);
    const answer = await send(t.url, client.key!, slowUpload(content, 'more.csv'));
    expect(await watch.stop()).toBe(before);
    expect(userError(answer)).toMatchObject({ code: 'IMPORT_IN_PROGRESS', message: expect.stringMatching(/queued or running/) });
    expect(answer.answeredEarly).toBe(true);
    expect(await jobCount(client)).toBe(1);
  });

  it('another tenant is not held up', async () => {
    const other = await t.clientFor('globex');
    const answer = await send(t.url, other.key!, slowUpload(eventsCsv(manyEvents(5))), { pauseMs: 0 });
    expect(answer.json?.data?.uploadImport?.userErrors, answer.text).toEqual([]);
  });
});

describe('file size, decided before the file is read (maxFileSize: 1 MB)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ maxFileSize: MB });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  const content = csvOfAbout(4 * MB);

  it('a Content-Length over the limit gets FILE_TOO_LARGE at once, and nothing is stored', async () => {
    const watch = watchSpool(t.dataDir);
    const answer = await send(t.url, client.key!, slowUpload(content));
    expect(await watch.stop()).toBe(0);
    expect(userError(answer)).toMatchObject({ code: 'FILE_TOO_LARGE', message: expect.stringContaining(String(MB)) });
    expect(answer.answeredEarly).toBe(true);
    expect(await jobCount(client)).toBe(0);
  });

  it('a chunked upload (no Content-Length) is cut off at the limit: FILE_TOO_LARGE while it sends, at most the limit stored, then nothing', async () => {
    const watch = watchSpool(t.dataDir);
    const answer = await send(t.url, client.key!, slowUpload(content), { chunked: true, pauseMs: 5 });
    const most = await watch.stop();
    expect(userError(answer)).toMatchObject({ code: 'FILE_TOO_LARGE' });
    expect(answer.answeredEarly, 'cut off before the client had sent its file').toBe(true);
    expect(most).toBeLessThanOrEqual(MB);
    expect(await spoolFiles(t.dataDir)).toEqual([]);
    expect(await jobCount(client)).toBe(0);
  });

  it('a file just under the limit, sent with its Content-Length, is taken whole', async () => {
    const answer = await send(t.url, client.key!, slowUpload(csvOfAbout(0.95 * MB)), { pauseMs: 0 });
    expect(answer.json?.data?.uploadImport?.userErrors, answer.text).toEqual([]);
  });
});

describe('the spool\'s cap (SPOOL_MAX_BYTES: 20 MB, maxFileSize: 16 MB)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  /** A file another instance is writing into the shared spool folder: sparse, so it takes no disk. */
  let theirs: string;

  beforeAll(async () => {
    t = await startTestApp({ maxFileSize: 16 * MB, spoolMaxBytes: 20 * MB });
    client = await t.clientFor('acme');
    await fs.mkdir(path.join(t.dataDir, 'spool'), { recursive: true });
    theirs = path.join(t.dataDir, 'spool', 'another-instance.upload');
  });
  afterAll(() => t?.close());

  const spoolFull = (answer: MultipartAnswer) => {
    expect(answer.status, answer.text).toBe(503);
    expect(answer.json?.errors?.[0]).toMatchObject({ message: expect.stringMatching(/no room/), extensions: { code: 'SPOOL_FULL' } });
  };

  it('refuses an upload whose declared size does not fit with a 503 SPOOL_FULL at once, storing nothing', async () => {
    await fs.writeFile(theirs, '');
    await fs.truncate(theirs, 19 * MB);
    const answer = await send(t.url, client.key!, slowUpload(csvOfAbout(2 * MB)));
    spoolFull(answer);
    expect(answer.answeredEarly).toBe(true);
    expect(await spoolFiles(t.dataDir)).toEqual(['another-instance.upload']);
  });

  it('cuts off a chunked upload once the spool has no more room for it, and removes what it wrote', async () => {
    await fs.truncate(theirs, 10 * MB);
    const sending = send(t.url, client.key!, slowUpload(csvOfAbout(6 * MB)), { chunked: true, pauseMs: 10 });
    // Once it is under way (its first step of room, 1 MB, reserved), the other instance's file grows.
    for (let i = 0; i < 200 && (await spoolFiles(t.dataDir)).length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    await fs.truncate(theirs, 19.5 * MB);
    const answer = await sending;
    spoolFull(answer);
    expect(answer.answeredEarly).toBe(true);
    expect(await spoolFiles(t.dataDir)).toEqual(['another-instance.upload']);
    expect(await jobCount(client)).toBe(0);
  });

  it('takes uploads again once there is room', async () => {
    await fs.rm(theirs);
    const answer = await send(t.url, client.key!, slowUpload(csvOfAbout(2 * MB)), { pauseMs: 0 });
    expect(answer.json?.data?.uploadImport?.userErrors, answer.text).toEqual([]);
  });
});

describe('a workbook\'s sheet that waits for its shared strings takes room in the spool (SPOOL_MAX_BYTES: 20 MB)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  let theirs: string;
  const rows = [[...EVENT_COLUMNS], ...[1, 2].map((i) => EVENT_COLUMNS.map((c) => eventRow(i)[c] ?? ''))];
  /** The sheet's XML grown by `mib` MiB of an element no reader makes a row of: the NDJSON made of it stays tiny. */
  const workbook = (mib: number) => excelOrderWorkbook(rows, { chunk: '<x/>'.repeat(16384), times: mib * 16 });
  const upload = (content: Buffer) => client.upload(UploadImportDocument, { input: { kind: 'EVENTS', allowDuplicateFile: true } }, { name: 'events.xlsx', content });
  /** Files of workbooks being read left in the system's temporary folder (where they were once kept). */
  const tempFolders = async () => (await fs.readdir(os.tmpdir())).filter((name) => name.startsWith('bulk-import-xlsx-'));

  beforeAll(async () => {
    t = await startTestApp({ maxFileSize: 16 * MB, spoolMaxBytes: 20 * MB });
    client = await t.clientFor('acme');
    await fs.mkdir(path.join(t.dataDir, 'spool'), { recursive: true });
    theirs = path.join(t.dataDir, 'spool', 'another-instance.upload');
  });
  afterAll(() => t?.close());

  it('a workbook in Excel\'s order (sheet, then shared strings) imports, its waiting sheet kept in the spool folder and gone after', async () => {
    const watch = watchSpool(t.dataDir);
    const { status, body } = await upload(await workbook(6));
    const most = await watch.stop();
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.data!.uploadImport.userErrors).toEqual([]);
    const job = await waitForJob(client, body.data!.uploadImport.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', format: 'XLSX', rowsImported: 2, rowsFailed: 0 });
    expect(most).toBeGreaterThan(6 << 20); // the waiting sheet, counted as the spool's
    await expect.poll(() => spoolFiles(t.dataDir), { timeout: 5000 }).toEqual([]);
  });

  it('one whose waiting sheet needs more room than the spool has left is refused with SPOOL_FULL at once, leaving no file behind', async () => {
    await fs.writeFile(theirs, '');
    await fs.truncate(theirs, 10 * MB);
    // 6 MiB of sheet fits beside the other instance's 10 MB; 12 MiB does not, nor 30 MiB (more than the whole spool).
    for (const mib of [12, 30]) {
      const watch = watchSpool(t.dataDir);
      const { status, body } = await upload(await workbook(mib));
      const most = await watch.stop();
      expect(status, JSON.stringify(body)).toBe(503);
      expect(body.errors?.[0]).toMatchObject({ message: expect.stringMatching(/no room/), extensions: { code: 'SPOOL_FULL' } });
      expect(most).toBeLessThanOrEqual(20 * MB);
      expect(await spoolFiles(t.dataDir)).toEqual(['another-instance.upload']);
      expect(await tempFolders()).toEqual([]);
    }
    expect(await jobCount(client)).toBe(1); // the earlier workbook's only
    const fits = await upload(await workbook(6));
    expect(fits.status, JSON.stringify(fits.body)).toBe(200);
    expect(fits.body.data!.uploadImport.userErrors).toEqual([]);
    await waitForJob(client, fits.body.data!.uploadImport.job!.id);
    await fs.rm(theirs);
  }, 30_000);
});

describe('a client that goes silent mid-file (UPLOAD_IDLE_TIMEOUT_MS: 500)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ uploadIdleTimeoutMs: 500 });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  it('is cut off, and its file and its tenant\'s upload slot are freed', async () => {
    const req = startUpload(t.url, client.key!, [uploadHead(), csvOfAbout(100_000)]);
    const at = Date.now();
    const closed = new Promise<number>((resolve) => {
      req.once('close', () => resolve(Date.now() - at));
      setTimeout(() => resolve(Infinity), 5000).unref();
    });
    for (let i = 0; i < 200 && (await spoolFiles(t.dataDir)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await spoolFiles(t.dataDir)).toHaveLength(1);
    // Nothing more is sent: the server closes the connection after half a second of silence.
    expect(await closed).toBeLessThan(5000);
    for (let i = 0; i < 200 && (await spoolFiles(t.dataDir)).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await spoolFiles(t.dataDir)).toEqual([]);
    const next = await send(t.url, client.key!, slowUpload(eventsCsv(manyEvents(5))), { pauseMs: 0 });
    expect(next.json?.data?.uploadImport?.userErrors, next.text).toEqual([]);
  });

  it('and so is a JSON request body that stops half-way (no request waits on a silent client forever)', async () => {
    const body = JSON.stringify({ query: '{ jobs(first: 1) { totalCount } }' });
    const req = http.request(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${client.key}`, 'content-length': String(body.length) } });
    req.on('error', () => {});
    const at = Date.now();
    const closed = new Promise<number>((resolve) => {
      req.once('close', () => resolve(Date.now() - at));
      setTimeout(() => resolve(Infinity), 5000).unref();
    });
    req.write(body.slice(0, 10));
    expect(await closed).toBeLessThan(5000);
  });

  it('while a client that sends slowly but steadily is not', async () => {
    const other = await t.clientFor('globex');
    const answer = await send(t.url, other.key!, slowUpload(csvOfAbout(400_000), 'slow.csv'), { pauseMs: 200 });
    expect(answer.json?.data?.uploadImport?.userErrors, answer.text).toEqual([]);
  });
});

describe('two instances on one database and spool folder', () => {
  let a: TestApp;
  let b: App;
  let bUrl: string;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    a = await startTestApp({ workerConcurrency: 0 });
    b = await buildApp(loadConfig({}, { ...testSettings(a.databaseUrl, a.dataDir, a.databaseDirectUrl), workerConcurrency: 0 }));
    bUrl = `${await b.start()}/graphql`.replace('localhost', '127.0.0.1');
    client = await a.clientFor('acme');
  });
  afterAll(async () => {
    await b?.stop();
    await a?.close();
  });

  it('a tenant uploading through one instance is refused by the other at once, and served once its upload is queued and done', async () => {
    const sending = send(a.url, client.key!, slowUpload(csvOfAbout(2 * MB), 'through-a.csv'), { pauseMs: 30 });
    for (let i = 0; i < 200 && (await spoolFiles(a.dataDir)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const onB = await send(bUrl, client.key!, slowUpload(eventsCsv(manyEvents(5)), 'through-b.csv'), { pauseMs: 0 });
    expect(userError(onB)).toMatchObject({ code: 'IMPORT_IN_PROGRESS', message: expect.stringMatching(/arriving/) });

    const onA = await sending;
    const jobId = onA.json?.data?.uploadImport?.job?.id;
    expect(jobId, onA.text).toBeTruthy();
    await client.data(CancelJobDocument, { id: jobId });
    const again = await send(bUrl, client.key!, slowUpload(eventsCsv(manyEvents(5)), 'through-b.csv'), { pauseMs: 0 });
    expect(again.json?.data?.uploadImport?.userErrors, again.text).toEqual([]);
  });

  it('a reservation left by an instance that died holds the tenant only until it expires', async () => {
    const other = await a.clientFor('initech');
    const [tenant] = await a.app.db.query<{ id: string }>("select id from tenants where name = 'initech'");
    await a.app.db.query(
      `insert into upload_reservations (tenant_id, spool_path, bytes, expires_at) values ($1, '/elsewhere/x.upload', 1000, now() + interval '30 seconds')`,
      [tenant.id],
    );
    const held = await send(bUrl, other.key!, slowUpload(eventsCsv(manyEvents(5))), { pauseMs: 0 });
    expect(userError(held)).toMatchObject({ code: 'IMPORT_IN_PROGRESS' });
    await a.app.db.query(`update upload_reservations set expires_at = now() - interval '1 second' where spool_path = '/elsewhere/x.upload'`);
    const free = await send(a.url, other.key!, slowUpload(eventsCsv(manyEvents(5))), { pauseMs: 0 });
    expect(free.json?.data?.uploadImport?.userErrors, free.text).toEqual([]);
  });
});
