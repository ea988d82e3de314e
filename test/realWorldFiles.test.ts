/**
 * Real-world files (issue "real-world files", items 1, 3, 4 and 8): exports as tenants bring them,
 * through the real server. A gzipped Mixpanel-style NDJSON export (by upload, with and without
 * .gz, and from a URL that answers with Content-Encoding: gzip), Excel's "CSV UTF-8" (BOM, CRLF),
 * a UTF-16 "Unicode text" export, a Windows-1252 CSV, and XLSX rosters with dates and formulas
 * written by exceljs. Bad files (a decompression bomb, damaged gzip, text not valid in its
 * encoding, an encrypted or damaged workbook) are refused before a job exists.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateStagedUploadDocument, ImportFromUrlDocument, ImportStagedUploadDocument, JobErrorsDocument, JobOutcomesDocument, UploadImportDocument, type ImportKind, type UploadImportInput,
} from '../src/generated/gql/graphql.js';
import { uncompressedTooLargeMessage } from '../src/intake/fileDecoding.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobCount, spoolFiles, waitForJob } from './support/jobs.js';
import { closing, sendMultipart, uploadHead } from './support/multipart.js';
import { partOf, putPart } from './support/stagedParts.js';
import { startTestApp, type TestApp } from './support/testApp.js';
import { workbookArchive } from './support/zipArchive.js';

const MAX_FILE_SIZE = 4 << 20;
const MAX_UNCOMPRESSED_SIZE = 16 << 20;
const MAX_XLSX_SHARED_STRINGS = 2 << 20;

let t: TestApp;
let client: GraphQLTestClient;
let files: http.Server;
let filesOrigin: string;
/** What the file server answers with, by path: the body, and whether it says Content-Encoding: gzip. */
const served = new Map<string, { body: Buffer; encoding?: string }>();

beforeAll(async () => {
  t = await startTestApp({ maxFileSize: MAX_FILE_SIZE, maxUncompressedSize: MAX_UNCOMPRESSED_SIZE, maxXlsxSharedStrings: MAX_XLSX_SHARED_STRINGS, allowInsecureSourceUrls: true, allowPrivateSourceAddresses: true });
  client = await t.clientFor('school-district');
  files = http.createServer((req, res) => {
    const file = served.get(req.url ?? '');
    if (!file) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', ...(file.encoding ? { 'content-encoding': file.encoding } : {}) }).end(file.body);
  });
  await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
  filesOrigin = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  // The school the rosters' users belong to.
  const orgs = await importFile('ORGANISATIONS', 'schools.csv', 'SCHOOL NAME,EXTERNAL ID,STATUS\nGovt. High School Nellore,SCH-1,active\n');
  expect(orgs.job.status).toBe('COMPLETED');
});
afterAll(async () => {
  await t?.close();
  await new Promise((resolve) => files?.close(resolve));
});

type Options = Omit<UploadImportInput, 'file' | 'kind'>;

async function upload(kind: ImportKind, name: string, content: string | Buffer, options: Options = {}) {
  const { status, body } = await client.upload(UploadImportDocument, { input: { kind, ...options } }, { name, content });
  expect(status, JSON.stringify(body).slice(0, 500)).toBe(200);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data!.uploadImport;
}

async function finished(id: string) {
  const job = await waitForJob(client, id);
  const { job: withErrors } = await client.data(JobErrorsDocument, { id, first: 100 });
  return { job, errors: withErrors!.errors.edges.map((e) => e.node) };
}

async function importFile(kind: ImportKind, name: string, content: string | Buffer, options: Options = {}) {
  const payload = await upload(kind, name, content, options);
  expect(payload.userErrors).toEqual([]);
  return finished(payload.job!.id);
}

/** A file refused before any job exists, leaving nothing in the spool. */
async function refused(kind: ImportKind, name: string, content: string | Buffer, options: Options = {}) {
  const jobsBefore = await jobCount(client);
  const payload = await upload(kind, name, content, options);
  expect(payload.job).toBeNull();
  expect(payload.userErrors).toHaveLength(1);
  expect(await jobCount(client)).toBe(jobsBefore);
  expect(await spoolFiles(t.dataDir)).toEqual([]);
  return payload.userErrors[0];
}

/** Mixpanel's raw export: one event per line, its properties nested, `time` in epoch seconds. */
function mixpanelExport(n: number, from = 0): string {
  const lines: string[] = [];
  for (let i = from; i < from + n; i++) {
    lines.push(JSON.stringify({
      id: `evt-${i}`,
      event: i % 3 === 0 ? 'Sign Up' : 'Page View',
      properties: { time: 1717200000 + i, distinct_id: `user-${i % 17}`, $browser: 'Chrome', $city: 'São Paulo', mp_lib: 'web', $insert_id: `ins${i}` },
    }));
  }
  return lines.join('\n') + '\n';
}

describe('gzip', () => {
  it('a gzipped Mixpanel-style NDJSON export imports with its .gz name, and as a name without .gz', async () => {
    const gz = zlib.gzipSync(mixpanelExport(3000));
    const named = await importFile('COLLECTION', 'mixpanel-2024-06.json.gz', gz, { collection: 'mixpanel' });
    expect(named.job).toMatchObject({ status: 'COMPLETED', format: 'NDJSON', rowsImported: 3000, rowsFailed: 0, filename: 'mixpanel-2024-06.json.gz' });
    // Progress is measured on the decompressed file: it ends at 100 %.
    expect(named.job.bytesProcessed).toBe(named.job.fileSize);
    expect(named.job.fileSize).toBe(Buffer.byteLength(mixpanelExport(3000)));

    const unnamed = await importFile('COLLECTION', 'export', zlib.gzipSync(mixpanelExport(10, 5000)), { collection: 'mixpanel' });
    expect(unnamed.job).toMatchObject({ status: 'COMPLETED', format: 'NDJSON', rowsImported: 10 });
    const { rows } = { rows: await t.app.db.query<{ n: string }>(`select count(*)::text as n from collection_records where data->'properties'->>'$city' = 'São Paulo'`) };
    expect(rows[0].n).toBe('3010');
  });

  it('the same gzipped file again is a DUPLICATE_FILE (the hash is the one of the bytes sent)', async () => {
    const gz = zlib.gzipSync(eventsCsv(manyEvents(20, 700)));
    const first = await importFile('EVENTS', 'events.csv.gz', gz);
    expect(first.job).toMatchObject({ status: 'COMPLETED', format: 'CSV', rowsImported: 20 });
    const again = await refused('EVENTS', 'events.csv.gz', gz);
    expect(again.code).toBe('DUPLICATE_FILE');
  });

  it('importFromUrl: an answer with Content-Encoding: gzip, and a .gz file served as it is; other codings are refused', async () => {
    served.set('/export.ndjson', { body: zlib.gzipSync(mixpanelExport(50, 10_000)), encoding: 'gzip' });
    served.set('/brotli.ndjson', { body: zlib.brotliCompressSync(mixpanelExport(5)), encoding: 'br' });
    served.set('/2024/06/export.json.gz', { body: zlib.gzipSync(mixpanelExport(40, 20_000)) });
    for (const [path, rows] of [['/export.ndjson', 50], ['/2024/06/export.json.gz', 40]] as const) {
      const { body } = await client.request(ImportFromUrlDocument, { input: { url: `${filesOrigin}${path}`, kind: 'COLLECTION', collection: 'mixpanel' } });
      expect(body.data!.importFromUrl.userErrors).toEqual([]);
      const { job } = await finished(body.data!.importFromUrl.job!.id);
      expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: rows, rowsFailed: 0 });
    }
    const { body } = await client.request(ImportFromUrlDocument, { input: { url: `${filesOrigin}/brotli.ndjson`, kind: 'COLLECTION', collection: 'mixpanel' } });
    expect(body.data!.importFromUrl.userErrors[0].message).toContain('Content-Encoding: br; only gzip (or none) is read');
  });

  it('a staged upload of a gzipped export (and of a UTF-16 one) imports like an uploaded one', async () => {
    for (const [filename, file, rows] of [
      ['mixpanel-staged.ndjson.gz', zlib.gzipSync(mixpanelExport(2000, 30_000)), 2000],
      ['unicode-staged.txt', Buffer.from('\uFEFF' + mixpanelExport(30, 40_000), 'utf16le'), 30],
    ] as const) {
      const { stagedUpload, userErrors } = (await client.data(CreateStagedUploadDocument, { input: { filename, fileSize: file.length } })).createStagedUpload;
      expect(userErrors).toEqual([]);
      for (const part of stagedUpload!.parts) expect(await putPart(part.url, partOf(file, stagedUpload!.partSize, part.number))).toBe(200);
      const imported = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: stagedUpload!.id, kind: 'COLLECTION', collection: 'staged', format: 'NDJSON' } })).importStagedUpload;
      expect(imported.userErrors).toEqual([]);
      const { job } = await finished(imported.job!.id);
      expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: rows, rowsFailed: 0 });
    }
    expect(await spoolFiles(t.dataDir)).toEqual([]); // the staged files went once decoded
  });

  it('a decompression bomb is refused with FILE_TOO_LARGE naming MAX_UNCOMPRESSED_SIZE as soon as it passes it, while the client is still sending', async () => {
    // 1 GiB of zeros in about 1 MiB: 1,024 gzip members of 1 MiB each (gzip allows members one
    // after the other): under MAX_FILE_SIZE, far over MAX_UNCOMPRESSED_SIZE (16 MiB: 17 members).
    const member = zlib.gzipSync(Buffer.alloc(1 << 20, '0'), { level: 9 });
    const members = Array.from({ length: 1024 }, () => member);
    expect(member.length * members.length).toBeLessThan(MAX_FILE_SIZE);
    const jobsBefore = await jobCount(client);
    // One member at a time, 10 ms apart (the whole bomb would take 10 s to send): a server that
    // inflated past the limit, or waited for the whole file, would answer only after the last one.
    const answer = await sendMultipart(t.url, {
      key: client.key, pieces: [uploadHead('events.csv.gz'), ...members, `\r\n${closing()}`], pauseMs: 10, stopWhenAnswered: true, timeoutMs: 60_000,
    });
    expect(answer.status).toBe(200);
    const payload = answer.json!.data!.uploadImport;
    expect(payload.job).toBeNull();
    expect(payload.userErrors).toEqual([{ code: 'FILE_TOO_LARGE', field: ['input', 'file'], message: uncompressedTooLargeMessage(MAX_UNCOMPRESSED_SIZE) }]);
    expect(payload.userErrors[0].message).toContain(`${MAX_UNCOMPRESSED_SIZE} bytes (MAX_UNCOMPRESSED_SIZE)`);
    // Answered before the client had sent even a fifth of the bomb: at most ~200 of its 1,024 MiB
    // were ever inflated (the limit is passed at the 17th member; the rest is slack for a busy machine).
    expect(answer.answeredEarly).toBe(true);
    expect(answer.piecesWritten).toBeLessThan(200);
    // Nothing kept: no job, nothing left in the spool.
    expect(await jobCount(client)).toBe(jobsBefore);
    await expect.poll(() => spoolFiles(t.dataDir), { timeout: 5000 }).toEqual([]);
  });

  it('damaged or cut-off gzip data is INVALID_FILE', async () => {
    const gz = zlib.gzipSync(eventsCsv(manyEvents(200, 900)));
    const cut = await refused('EVENTS', 'events.csv.gz', gz.subarray(0, gz.length - 100));
    expect(cut.code).toBe('INVALID_FILE');
    expect(cut.message).toMatch(/gzip/);
    const damaged = Buffer.from(gz);
    damaged.fill(0x55, 40, 80);
    expect((await refused('EVENTS', 'events.csv.gz', damaged)).code).toBe('INVALID_FILE');
  });
});

const USERS_HEADER = 'NAME,MOBILE PHONE,EMAIL,SCHOOL ID,USER_TYPE,ROLES,External ID';

describe('encodings', () => {
  it('Excel\'s "CSV UTF-8": BOM, CRLF, accented names', async () => {
    const csv = '\uFEFF' + [USERS_HEADER, 'Zoë Fernández,9876500001,,SCH-1,teacher,,T-1', 'Jürgen Müller,9876500002,,SCH-1,teacher,,T-2'].join('\r\n') + '\r\n';
    const { job } = await importFile('USERS', 'Teachers.csv', Buffer.from(csv, 'utf8'));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 2, rowsFailed: 0 });
    expect(await names('T-1', 'T-2')).toEqual(['Zoë Fernández', 'Jürgen Müller']);
  });

  // Excel's "Unicode Text": UTF-16 LE with a BOM, tab-separated (the tab found from the header).
  it('a UTF-16 LE "Unicode text" export with its BOM, tab-separated, and the same in UTF-16 BE', async () => {
    const tabbed = (line: string) => line.replace(/,/g, '\t');
    const text = '\uFEFF' + [USERS_HEADER, 'Ana Conceição,9876500003,,SCH-1,teacher,,T-3', '李小龍,9876500004,,SCH-1,other,,T-4'].map(tabbed).join('\r\n') + '\r\n';
    const le = Buffer.from(text, 'utf16le');
    const { job } = await importFile('USERS', 'Unicode text.txt', le, { format: 'CSV' });
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 2, rowsFailed: 0 });
    expect(await names('T-3', 'T-4')).toEqual(['Ana Conceição', '李小龍']);
    const be = Buffer.from(le).swap16();
    const again = await importFile('USERS', 'unicode-be.csv', be);
    expect(again.job).toMatchObject({ status: 'COMPLETED', rowsUnchanged: 2, rowsFailed: 0 }); // the same names, read from UTF-16 BE
  });

  it('a Windows-1252 CSV with encoding: WINDOWS_1252; without it, refused at the line and byte that is not UTF-8', async () => {
    const text = [USERS_HEADER, 'José Ñúñez,9876500005,,SCH-1,teacher,,T-5', 'Françoise Lefèvre €,9876500006,,SCH-1,teacher,,T-6'].join('\r\n') + '\r\n';
    const cp1252 = Buffer.from(text.replace('€', '\x80'), 'latin1'); // the euro sign is 0x80 in Windows-1252
    const wrong = await refused('USERS', 'export.csv', cp1252);
    expect(wrong.code).toBe('INVALID_FILE');
    expect(wrong.message).toContain('line 2, byte 4 of the line'); // the é of José
    expect(wrong.message).toContain('WINDOWS_1252');

    const { job } = await importFile('USERS', 'export.csv', cp1252, { encoding: 'WINDOWS_1252' });
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 2, rowsFailed: 0 });
    expect(await names('T-5', 'T-6')).toEqual(['José Ñúñez', 'Françoise Lefèvre €']);

    const latin1 = await importFile('USERS', 'export-latin1.csv', Buffer.from(text.replace(' €', ''), 'latin1'), { encoding: 'ISO_8859_1' });
    expect(latin1.job).toMatchObject({ status: 'COMPLETED', rowsUpdated: 1, rowsUnchanged: 1 }); // only Françoise's name changed
    expect(await names('T-6')).toEqual(['Françoise Lefèvre']);
  });

  it('text not valid in its encoding is refused before a job exists, at its line', async () => {
    const badUtf16 = Buffer.from('\uFEFF' + [USERS_HEADER, 'A,9876500007,,SCH-1,teacher,,T-7', 'B\uD800,9876500008,,SCH-1,teacher,,T-8'].join('\n') + '\n', 'utf16le');
    const error = await refused('USERS', 'broken.csv', badUtf16);
    expect(error.code).toBe('INVALID_FILE');
    expect(error.message).toContain('not valid UTF16LE: line 3, byte 3 of the line');
    const undefinedByte = Buffer.concat([Buffer.from(`${USERS_HEADER}\nA`), Buffer.from([0x81]), Buffer.from(',9876500007,,SCH-1,teacher,,T-7\n')]);
    const error1252 = await refused('USERS', 'broken.csv', undefinedByte, { encoding: 'WINDOWS_1252' });
    expect(error1252.message).toContain('not valid WINDOWS_1252: line 2, byte 2 of the line');
  });
});

async function names(...externalIds: string[]): Promise<string[]> {
  const rows = await t.app.db.query<{ name: string; external_id: string }>('select name, external_id from users where external_id = any($1)', [externalIds]);
  return externalIds.map((id) => rows.find((r) => r.external_id === id)?.name ?? '(missing)');
}

/**
 * Temporary files of workbooks being read left in the system's temporary folder: the folders
 * intake/xlsxWorkbook.ts once kept waiting sheets in (they are scratch files in the spool now,
 * which `refused` finds empty), and the files exceljs' own reader leaves (the `tmp` package's,
 * named with the process id) if it were used. The in-process server shares our tmpdir and pid.
 */
const xlsxTempFolders = async () => (await fs.readdir(os.tmpdir()))
  .filter((name) => name.startsWith('bulk-import-xlsx-') || name.startsWith(`tmp-${process.pid}-`)).sort();

/** A school's roster as Excel keeps it: a title-less header, a formula for emails, a blank row, a second sheet. */
async function rosterWorkbook(): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  const roster = book.addWorksheet('Teachers');
  roster.addRow(['NAME', 'MOBILE PHONE', 'EMAIL', 'SCHOOL ID', 'USER_TYPE', 'ROLES', 'External ID']);
  const teacher = (row: number, name: string, phone: number | string, id: number) => {
    const email = `${name.toLowerCase().replace(/\s+/g, '.')}@school.example`;
    roster.getRow(row).values = [name, phone, { formula: `LOWER(SUBSTITUTE(CLEAN(A${row})," ","."))&"@school.example"`, result: email }, 'SCH-1', 'teacher', 'BOOK_CREATOR', id];
  };
  teacher(2, 'Lakshmi Devi', 9876500101, 101);
  teacher(3, 'Ravi Kumar', 9876500102, 102);
  // Row 4 left blank, as rosters often have.
  teacher(5, 'Meena Iyer', 12345, 103); // a phone number too short: the row's error, at row 5
  teacher(6, 'Suresh\nBabu', 9876500104, 104); // a line break inside a cell
  teacher(7, 'Anil Sharma', 9876500105, 105);
  const other = book.addWorksheet('Notes');
  other.addRow(['NAME', 'MOBILE PHONE', 'SCHOOL ID', 'External ID']);
  other.addRow(['Kiran Rao', 9876500199, 'SCH-1', 199]);
  return Buffer.from(await book.xlsx.writeBuffer());
}

describe('XLSX', () => {
  it('a users roster: the first sheet, formulas\' values, numbers as text, row errors at Excel\'s row numbers', async () => {
    const { job, errors } = await importFile('USERS', 'Teachers 2024.xlsx', await rosterWorkbook());
    expect(job).toMatchObject({ status: 'COMPLETED', format: 'XLSX', rowsCreated: 4, rowsFailed: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 5, column: 'MOBILE PHONE', value: '12345' });
    const users = await t.app.db.query<{ name: string; phone: string; email: string; external_id: string }>(
      `select name, phone, email, external_id from users where external_id in ('101', '104') order by external_id`);
    expect(users).toEqual([
      { name: 'Lakshmi Devi', phone: '9876500101', email: 'lakshmi.devi@school.example', external_id: '101' },
      { name: 'Suresh\nBabu', phone: '9876500104', email: 'suresh.babu@school.example', external_id: '104' },
    ]);
    const { job: withOutcomes } = await client.data(JobOutcomesDocument, { id: job.id, first: 10 });
    expect(withOutcomes!.outcomes.edges.map((e) => e.node.line)).toEqual([2, 3, 6, 7]);
  });

  it('`sheet` picks another sheet; a sheet that is not there is named with the ones that are', async () => {
    const book = await rosterWorkbook();
    // The first sheet of these very bytes first: then another sheet of them is not a duplicate
    // import, and the same sheet again is, named in any case.
    expect((await importFile('USERS', 'roster.xlsx', book, { allowDuplicateFile: true })).job).toMatchObject({ status: 'COMPLETED' });
    const { job } = await importFile('USERS', 'roster.xlsx', book, { sheet: 'Notes' });
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1 });
    expect(await refused('USERS', 'roster.xlsx', book, { sheet: ' notes ' })).toMatchObject({ code: 'DUPLICATE_FILE' });
    const missing = await refused('USERS', 'roster.xlsx', book, { sheet: 'Staff' });
    expect(missing).toMatchObject({ code: 'INVALID_FILE' });
    expect(missing.message).toContain('no sheet named "Staff"; its sheets: "Teachers", "Notes"');
  });

  it('`sheet` with a file that is not a workbook is refused naming sheet, before a job exists, however the file comes', async () => {
    const csv = `${USERS_HEADER}\nA B,9876500301,,SCH-1,teacher,,S-1\n`;
    const expected = { code: 'INVALID_INPUT', field: ['input', 'sheet'], message: expect.stringMatching(/^sheet is for XLSX workbooks/) };
    expect(await refused('USERS', 'roster.csv', csv, { sheet: 'Teachers' })).toEqual(expected); // found from the name
    expect(await refused('USERS', 'roster', zlib.gzipSync(csv), { sheet: 'Teachers' })).toEqual(expected); // from the bytes, gzipped
    expect(await refused('USERS', 'roster.xlsx', csv, { sheet: 'Teachers', format: 'CSV' })).toEqual(expected); // said outright
    const file = Buffer.from(csv);
    const { stagedUpload } = (await client.data(CreateStagedUploadDocument, { input: { filename: 'roster.csv', fileSize: file.length } })).createStagedUpload;
    for (const part of stagedUpload!.parts) expect(await putPart(part.url, partOf(file, stagedUpload!.partSize, part.number))).toBe(200);
    const staged = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: stagedUpload!.id, kind: 'USERS', sheet: 'Teachers' } })).importStagedUpload;
    expect(staged.job).toBeNull();
    expect(staged.userErrors).toEqual([expected]);
    // The staged file stays; without sheet, it imports.
    const again = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: stagedUpload!.id, kind: 'USERS' } })).importStagedUpload;
    expect(again.userErrors).toEqual([]);
    const { job } = await finished(again.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1 });
    expect(await spoolFiles(t.dataDir)).toEqual([]);
  });

  it('dates as ISO 8601 (date cells and formulas shown as dates), numbers without float noise, recognised by bytes and gzipped', async () => {
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Answers');
    sheet.addRow(['user_id', 'course_id', 'question_id', 'correct', 'timestamp', 'response_time_ms', 'attempt']);
    sheet.addRow(['u1', 'MATH-7', 'q1', true, new Date(Date.UTC(2024, 5, 3, 9, 15, 30)), 1500, 1]);
    sheet.addRow(['u1', 'MATH-7', 'q2', 0, new Date(Date.UTC(2024, 5, 3)), { formula: '0.1*3*10000', result: 3000.0000000000005 }, 2]);
    sheet.getRow(4).values = ['u2', 'MATH-7', 'q1', 1, null, 2100, 1];
    const dated = sheet.getCell('E4');
    dated.value = { formula: 'E3+1', result: 45447 } as ExcelJS.CellFormulaValue; // 2024-06-04, shown as a date
    dated.numFmt = 'yyyy-mm-dd';
    const xlsx = Buffer.from(await book.xlsx.writeBuffer());
    const { job, errors } = await importFile('USER_EVENTS', 'answers.gz', zlib.gzipSync(xlsx), { allowDuplicateFile: true });
    expect(errors).toEqual([]);
    expect(job).toMatchObject({ status: 'COMPLETED', format: 'XLSX', rowsImported: 3 });
    const rows = await t.app.db.query<{ question_id: string; ts: string; response_time_ms: number }>(
      `select question_id, to_char(timestamp at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as ts, response_time_ms from user_events order by line`);
    expect(rows).toEqual([
      { question_id: 'q1', ts: '2024-06-03T09:15:30', response_time_ms: 1500 },
      { question_id: 'q2', ts: '2024-06-03T00:00:00', response_time_ms: 3000 },
      { question_id: 'q1', ts: '2024-06-04T00:00:00', response_time_ms: 2100 },
    ]);
  });

  it('a workbook whose sheet unzips far past MAX_UNCOMPRESSED_SIZE is FILE_TOO_LARGE at that limit, leaves no temporary file, and the server goes on', async () => {
    const header = ['NAME', 'MOBILE PHONE', 'SCHOOL ID', 'External ID'];
    // The hand-made workbook imports when it is small: it is a workbook like any (its sheet comes
    // before the parts that name it, as Excel writes them, so the sheet waits in a temporary file).
    const small = await workbookArchive([header, ['Zip Small', '9876500401', 'SCH-1', 'Z-1']], { chunk: '<x/>', times: 1000 });
    expect((await importFile('USERS', 'zipped roster.xlsx', small)).job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1 });

    // 512 MiB of sheet XML in a few hundred KiB: an element no reader makes a row of, repeated, so
    // only counting what the workbook unzips to can stop it (the NDJSON made of it stays tiny).
    const bomb = await workbookArchive([header, ['Zip Bomb', '9876500402', 'SCH-1', 'Z-2']], { chunk: '<x/>'.repeat(16384), times: 8192 });
    expect(bomb.length).toBeLessThan(MAX_FILE_SIZE);
    const tempBefore = await xlsxTempFolders();
    const error = await refused('USERS', 'roster.xlsx', bomb);
    expect(error).toMatchObject({ code: 'FILE_TOO_LARGE', field: ['input', 'file'] });
    expect(error.message).toBe(`Unzipped, the workbook is larger than the limit of ${MAX_UNCOMPRESSED_SIZE} bytes (MAX_UNCOMPRESSED_SIZE)`);
    expect(await xlsxTempFolders()).toEqual(tempBefore);

    expect((await fetch(t.url.replace(/\/graphql$/, '/healthz'))).status).toBe(200);
    const after = await importFile('USERS', 'roster after.xlsx', await workbookArchive([header, ['Zip After', '9876500403', 'SCH-1', 'Z-3']]));
    expect(after.job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1 });
  });

  it('a workbook larger than MAX_FILE_SIZE, cut off inside its sheet, is FILE_TOO_LARGE at once: the request does not wait on the part left half-read', async () => {
    const header = ['NAME', 'MOBILE PHONE', 'SCHOOL ID', 'External ID'];
    // 64 KiB of random text repeated: more than deflate's 32 KiB window, so it stays as large
    // zipped, and the upload passes MAX_FILE_SIZE in the middle of the sheet part.
    const noise = `<x a="${crypto.randomBytes(48 * 1024).toString('base64')}"/>`;
    const bigSheet = await workbookArchive([header, ['Cut Off', '9876500601', 'SCH-1', 'C-1']], { chunk: noise, times: 96 });
    // The same in the shared strings, the part that comes first (read as it arrives, not kept in a file).
    const bigStrings = await workbookArchive([header, ['Cut Off', '9876500601', 'SCH-1', 'C-1']], undefined, { chunk: `<si><t>${noise.slice(6, -3)}</t></si>`, times: 96 });
    for (const big of [bigSheet, bigStrings]) {
      expect(big.length).toBeGreaterThan(MAX_FILE_SIZE);
      const started = performance.now();
      const error = await refused('USERS', 'big roster.xlsx', big);
      expect(error).toMatchObject({ code: 'FILE_TOO_LARGE' });
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(await xlsxTempFolders()).toEqual([]);
    }
  }, 30_000);

  it('a workbook\'s shared strings (held in memory) are bounded on their own: past MAX_XLSX_SHARED_STRINGS, FILE_TOO_LARGE naming it', async () => {
    const header = ['NAME', 'MOBILE PHONE', 'SCHOOL ID', 'External ID'];
    const si = '<si><t>Government Higher Primary School, Nellore</t></si>'; // 55 bytes
    const fits = await workbookArchive([header, ['Strings Ok', '9876500501', 'SCH-1', 'SS-1']], undefined, { chunk: si, times: 30_000 }); // 1.6 MiB
    expect((await importFile('USERS', 'strings.xlsx', fits)).job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1 });
    // 8 MiB of strings: within MAX_UNCOMPRESSED_SIZE (16 MiB), past their own limit (2 MiB).
    const many = await workbookArchive([header, ['Strings Many', '9876500502', 'SCH-1', 'SS-2']], undefined, { chunk: si, times: 150_000 });
    const error = await refused('USERS', 'strings.xlsx', many);
    expect(error).toMatchObject({ code: 'FILE_TOO_LARGE', field: ['input', 'file'] });
    expect(error.message).toContain(`larger than the limit of ${MAX_XLSX_SHARED_STRINGS} bytes (MAX_XLSX_SHARED_STRINGS)`);
  });

  it('an encrypted workbook, a damaged one, and a workbook sent as CSV are INVALID_FILE', async () => {
    // Office saves a password-protected workbook as an OLE compound file, whatever its name.
    const ole = Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(4096)]);
    const encrypted = await refused('USERS', 'Teachers.xlsx', ole);
    expect(encrypted).toMatchObject({ code: 'INVALID_FILE' });
    expect(encrypted.message).toMatch(/encrypted|password/);
    const book = await rosterWorkbook();
    const damaged = await refused('USERS', 'Teachers.xlsx', book.subarray(0, Math.floor(book.length / 2)));
    expect(damaged).toMatchObject({ code: 'INVALID_FILE' });
    expect(damaged.message).toMatch(/workbook/);
    const asCsv = await refused('USERS', 'Teachers.xlsx', book, { format: 'CSV' });
    expect(asCsv.message).toMatch(/format: XLSX/);
    const notZip = await refused('USERS', 'Teachers.xlsx', `${USERS_HEADER}\n`);
    expect(notZip.message).toMatch(/not an XLSX workbook/);
  });
});
