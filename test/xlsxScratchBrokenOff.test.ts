/**
 * A workbook whose sending breaks off in the middle of a part (a sheet kept waiting for its shared
 * strings in a scratch file of the spool, in room taken from the upload's reservation; the shared
 * strings): the request ends, the scratch file and the upload's file go, and the room and the
 * tenant's upload slot are given back.
 */
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { EVENT_COLUMNS, eventRow } from './support/events.js';
import { jobCount, waitForJob } from './support/jobs.js';
import { BOUNDARY, closing, startUpload, uploadHead } from './support/multipart.js';
import { startTestApp, type TestApp } from './support/testApp.js';
import { excelOrderWorkbook, workbookArchive, zipArchive } from './support/zipArchive.js';

const MB = 1_000_000;
const rows = [[...EVENT_COLUMNS], ...[1, 2].map((i) => EVENT_COLUMNS.map((c) => eventRow(i)[c] ?? ''))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A workbook in Excel's order whose sheet does not compress away: its bytes arrive over a while, and are written to a scratch file as they do. */
async function largeWorkbook(): Promise<{ book: Buffer; midSheet: number }> {
  let filler = '';
  for (let i = 0; i < 4096; i++) filler += `<x a="${(i * 2654435761 % 4294967296).toString(36)}${i}"/>`;
  const book = await excelOrderWorkbook(rows, { chunk: filler, times: 40 });
  const midSheet = Math.floor((book.indexOf('xl/worksheets/sheet1.xml') + book.indexOf('xl/sharedStrings.xml')) / 2);
  return { book, midSheet };
}

describe('a workbook\'s sending broken off mid-part (UPLOAD_IDLE_TIMEOUT_MS: 1000)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  let spool: string;
  let workbook: { book: Buffer; midSheet: number };

  beforeAll(async () => {
    t = await startTestApp({ maxFileSize: 16 * MB, spoolMaxBytes: 40 * MB, uploadIdleTimeoutMs: 1000 });
    spool = path.join(t.dataDir, 'spool');
    workbook = await largeWorkbook();
  });
  afterAll(() => t?.close());
  // A tenant each, so that what one case leaves behind does not decide the next.
  let tenants = 0;
  beforeEach(async () => { client = await t.clientFor(`tenant-${++tenants}`); });

  const scratchFiles = async () => (await fs.readdir(spool).catch(() => [] as string[])).filter((n) => n.endsWith('.scratch'));
  const reservations = async () => (await t.app.db.query<{ n: number }>('select count(*)::int as n from upload_reservations'))[0].n;

  /** Nothing of the broken-off upload is left, and the tenant may send a workbook again. */
  async function leftNothing() {
    await expect.poll(async () => ({ files: await fs.readdir(spool), reservations: await reservations() }), { timeout: 8000 })
      .toEqual({ files: [], reservations: 0 });
    const again = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS', allowDuplicateFile: true } }, { name: 'events.xlsx', content: workbook.book });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect(again.body.data!.uploadImport.userErrors).toEqual([]);
    await waitForJob(client, again.body.data!.uploadImport.job!.id);
  }

  it('the client disconnects', async () => {
    const req = startUpload(t.url, client.key!, [uploadHead('events.xlsx'), workbook.book.subarray(0, workbook.midSheet)]);
    await expect.poll(scratchFiles, { timeout: 5000 }).toHaveLength(1);
    req.destroy();
    await leftNothing();
  }, 30_000);

  it('the client goes silent', async () => {
    const req = startUpload(t.url, client.key!, [uploadHead('events.xlsx'), workbook.book.subarray(0, workbook.midSheet)]);
    await expect.poll(scratchFiles, { timeout: 5000 }).toHaveLength(1);
    await leftNothing();
    req.destroy();
  }, 30_000);

  it('the client disconnects while the shared strings (first in this workbook) are read', async () => {
    let strings = '';
    for (let i = 0; i < 2048; i++) strings += `<si><t>${(i * 2654435761 % 4294967296).toString(36)}-${i}</t></si>`;
    const book = await workbookArchive(rows, undefined, { chunk: strings, times: 40 });
    const req = startUpload(t.url, client.key!, [uploadHead('events.xlsx'), book.subarray(0, Math.floor(book.indexOf('[Content_Types].xml') / 2))]);
    const before = await reservations();
    await expect.poll(reservations, { timeout: 5000 }).toBe(before + 1);
    await sleep(500);
    req.destroy();
    await leftNothing();
  }, 30_000);

  it('the body ends, the archive cut short mid-sheet: INVALID_FILE', async () => {
    const before = await jobCount(client);
    const body = Buffer.concat([Buffer.from(uploadHead('events.xlsx')), workbook.book.subarray(0, workbook.midSheet), Buffer.from(`\r\n${closing()}`)]);
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(t.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${client.key}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(body.length) },
        timeout: 15_000,
      }, (res) => { let text = ''; res.on('data', (c) => { text += c; }); res.on('end', () => resolve({ status: res.statusCode ?? 0, text })); });
      req.on('timeout', () => { req.destroy(); reject(new Error('no answer')); });
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status, answer.text).toBe(200);
    expect(JSON.parse(answer.text).data.uploadImport.userErrors[0]).toMatchObject({ code: 'INVALID_FILE' });
    expect(await jobCount(client)).toBe(before);
    await leftNothing();
  }, 30_000);
});

describe('a waiting sheet\'s scratch file is named by the server, not by the archive', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp({}); });
  afterAll(() => t?.close());

  it('a sheet part numbered with 300 digits: the answer names no server path, and nothing is left', async () => {
    const client = await t.clientFor('acme');
    const main = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
    const book = await zipArchive([
      { name: `xl/worksheets/sheet${'1'.repeat(300)}.xml`, text: `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${main}"><sheetData/></worksheet>` },
      { name: 'xl/workbook.xml', text: `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${main}"><sheets/></workbook>` },
    ]);
    const { status, body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'events.xlsx', content: book });
    expect(status, JSON.stringify(body)).toBe(200);
    const [error] = body.data!.uploadImport.userErrors;
    expect(error).toMatchObject({ code: 'INVALID_FILE' });
    expect(error.message).not.toContain(t.dataDir);
    expect(error.message).not.toMatch(/ENAMETOOLONG/);
    expect(await fs.readdir(path.join(t.dataDir, 'spool')).catch(() => [])).toEqual([]);
  });
});
