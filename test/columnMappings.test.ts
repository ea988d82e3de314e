/**
 * Column mappings through the real server, with a staff export whose headers are the school
 * system's, not Sunbird's (test/files/staff-export-*.csv): refused with the expected columns and
 * a hint for each unknown header; imported with a columnMapping that is saved; listed; applied
 * unasked to the next export with the same headers (in another order), for that tenant only.
 * The same for an XLSX roster (the sheet's header) and for NDJSON (the first record's keys).
 */
import fs from 'node:fs/promises';
import zlib from 'node:zlib';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ColumnMappingsDocument, JobErrorsDocument, JobReadingDocument, UploadImportDocument, UploadImportFileColumnsDocument, type UploadImportInput,
} from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;

const file = async (name: string) => ({ name, content: await fs.readFile(new URL(`files/${name}`, import.meta.url)) });

async function upload(name: string, options: Omit<UploadImportInput, 'file' | 'kind'> = {}, as = client) {
  const { body } = await as.upload(UploadImportDocument, { input: { kind: 'USERS', ...options } }, await file(name));
  expect(body.errors).toBeUndefined();
  return body.data!.uploadImport;
}

const STAFF_MAPPING = [
  { from: 'Full Name', to: 'NAME' },
  { from: 'Phone', to: 'MOBILE PHONE' },
  { from: 'E-mail address', to: 'email' }, // the kind's names match as headers do
  { from: 'Staff No', to: 'External ID' },
  { from: 'Designation', to: 'USER_TYPE' },
  { from: 'Notes', to: null },
];

const userByExternalId = async (externalId: string) => (await t.app.db.query<Record<string, string | null>>(
  'select name, phone, email, user_type, external_id from users where external_id = $1', [externalId]))[0];

beforeAll(async () => {
  t = await startTestApp({ batchSize: 2 });
  client = await t.clientFor('school-a');
});
afterAll(() => t?.close());

describe('a file whose headers are not the kind\'s', () => {
  it('is refused with the kind\'s expected columns and the closest names for each unknown header', async () => {
    const payload = await upload('staff-export-2024.csv');
    expect(payload.job).toBeNull();
    expect(payload.userErrors).toHaveLength(1);
    const [error] = payload.userErrors;
    expect(error.code).toBe('SCHEMA_MISMATCH');
    expect(error.message).toContain('missing required column: NAME');
    expect(error.message).toContain('Phone: did you mean MOBILE PHONE?');
    expect(error.message).toContain('Full Name: did you mean NAME?');
    expect(error.message).toContain('USERS expects: NAME (required), MOBILE PHONE, EMAIL, SCHOOL ID, USER_TYPE, ROLES, USER ID, External ID.');
    expect(error.message).toContain('columnMapping');
  });

  it('imports with a columnMapping (a column ignored), saves it, and the job says which mapping it used', async () => {
    const payload = await upload('staff-export-2024.csv', { columnMapping: STAFF_MAPPING, saveMappingAs: 'HR export' });
    expect(payload.userErrors).toEqual([]);
    const job = await waitForJob(client, payload.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 4, rowsFailed: 0 });
    const { job: reading } = await client.data(JobReadingDocument, { id: job.id });
    expect(reading).toMatchObject({
      delimiter: ',', columnMappingName: 'HR export',
      columnMapping: STAFF_MAPPING.map((m) => (m.to === 'email' ? { ...m, to: 'EMAIL' } : m)),
    });
    expect(await userByExternalId('KA-T-0003')).toEqual({
      name: 'Lakshmi Narayan', phone: null, email: 'lakshmi.n@example.org', user_type: 'other', external_id: 'KA-T-0003',
    });
    expect(await userByExternalId('KA-T-0001')).toMatchObject({ name: 'Asha Kumari', phone: '+919845012345' });

    const { columnMappings } = await client.data(ColumnMappingsDocument, { kind: 'USERS' });
    expect(columnMappings).toEqual([{
      name: 'HR export', kind: 'USERS',
      headers: ['Full Name', 'Phone', 'E-mail address', 'Staff No', 'Designation', 'Notes'],
      mapping: STAFF_MAPPING.map((m) => (m.to === 'email' ? { ...m, to: 'EMAIL' } : m)),
    }]);
    expect((await client.data(ColumnMappingsDocument, { kind: 'EVENTS' })).columnMappings).toEqual([]);
  });

  it('applies the saved mapping unasked to a later export with the same headers in another order', async () => {
    const payload = await upload('staff-export-2025.csv');
    expect(payload.userErrors).toEqual([]);
    const job = await waitForJob(client, payload.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsUpdated: 1, rowsFailed: 1 });
    const { job: reading } = await client.data(JobReadingDocument, { id: job.id });
    expect(reading?.columnMappingName).toBe('HR export');
    expect(await userByExternalId('KA-T-0002')).toMatchObject({ name: 'Ravi Shankar', phone: '9845067891' });
    expect(await userByExternalId('KA-T-0005')).toMatchObject({ name: 'Priya Das', user_type: 'teacher' });
    // Errors name the kind's column, at the line of the file.
    const { job: withErrors } = await client.data(JobErrorsDocument, { id: job.id, first: 10 });
    expect(withErrors!.errors.edges.map((e) => e.node)).toEqual([
      { line: 4, column: 'USER_TYPE', value: 'principal', message: expect.stringContaining('USER_TYPE') },
    ]);
  });

  it('keeps a tenant\'s mappings its own: another tenant\'s upload is refused and lists none', async () => {
    const other = await t.clientFor('school-b');
    const payload = await upload('staff-export-2025.csv', {}, other);
    expect(payload.userErrors.map((e) => e.code)).toEqual(['SCHEMA_MISMATCH']);
    expect((await other.data(ColumnMappingsDocument, {})).columnMappings).toEqual([]);
  });

  it('saving a name again replaces that mapping; a dry run saves nothing', async () => {
    const mapping = STAFF_MAPPING.map((m) => (m.from === 'Designation' ? { from: 'Designation', to: null } : m));
    const dry = await upload('staff-export-2024.csv', { columnMapping: mapping, saveMappingAs: 'HR export', dryRun: true });
    expect(dry.userErrors).toEqual([]);
    await waitForJob(client, dry.job!.id);
    expect((await client.data(ColumnMappingsDocument, {})).columnMappings[0].mapping).toContainEqual({ from: 'Designation', to: 'USER_TYPE' });
    const saved = await upload('staff-export-2024.csv', { columnMapping: mapping, saveMappingAs: 'HR export', allowDuplicateFile: true });
    expect(saved.userErrors).toEqual([]);
    await waitForJob(client, saved.job!.id);
    const { columnMappings } = await client.data(ColumnMappingsDocument, {});
    expect(columnMappings).toHaveLength(1);
    expect(columnMappings[0].mapping).toContainEqual({ from: 'Designation', to: null });
  });
});

describe('a mapping that cannot be used is refused before the file is read, naming columnMapping', () => {
  it.each([
    ['a column the kind does not have', [{ from: 'Phone', to: 'TELEPHONE' }], /TELEPHONE \(for "Phone"\) is not a column of USERS/],
    ['two columns mapped to one', [{ from: 'Phone', to: 'MOBILE PHONE' }, { from: 'Notes', to: 'mobile_phone' }], /two columns to MOBILE PHONE/],
    ['a header the file does not have', [{ from: 'Telefon', to: 'MOBILE PHONE' }, ...STAFF_MAPPING.filter((m) => m.from !== 'Phone')], /"Telefon", which the file's header/],
  ])('%s', async (_what, columnMapping, message) => {
    const payload = await upload('staff-export-2024.csv', { columnMapping, allowDuplicateFile: true });
    expect(payload.job).toBeNull();
    expect(payload.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringMatching(message), field: ['input', 'columnMapping'] }]);
  });

  it('saveMappingAs without a mapping', async () => {
    const payload = await upload('staff-export-2024.csv', { saveMappingAs: 'x' });
    expect(payload.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('saveMappingAs'), field: ['input', 'saveMappingAs'] }]);
  });

  it('a mapping that leaves a required column out is SCHEMA_MISMATCH saying the mapping was applied', async () => {
    const payload = await upload('staff-export-2024.csv', { columnMapping: STAFF_MAPPING.filter((m) => m.from !== 'Full Name'), allowDuplicateFile: true });
    expect(payload.userErrors).toEqual([{
      code: 'SCHEMA_MISMATCH', field: ['input', 'file'],
      message: expect.stringMatching(/^The file's columns \(with the columnMapping given\) do not match USERS: missing required column: NAME; unknown column: Full Name\. Full Name: did you mean NAME\?/),
    }]);
  });
});

/** The staff export as the school system's Excel keeps it: the same headers, in a workbook. */
async function staffWorkbook(header: string[], rows: (string | number | null)[][]): Promise<Buffer> {
  const book = new ExcelJS.Workbook();
  const sheet = book.addWorksheet('Staff');
  sheet.addRow(header);
  for (const row of rows) sheet.addRow(row);
  return Buffer.from(await book.xlsx.writeBuffer());
}

const ndjson = (records: Record<string, unknown>[]) => Buffer.from(records.map((r) => JSON.stringify(r)).join('\n') + '\n');

async function send(as: GraphQLTestClient, name: string, content: Buffer, options: Omit<UploadImportInput, 'file' | 'kind'> = {}) {
  const { body } = await as.upload(UploadImportDocument, { input: { kind: 'USERS', ...options } }, { name, content });
  expect(body.errors).toBeUndefined();
  return body.data!.uploadImport;
}

describe('an XLSX roster is mapped as a CSV is', () => {
  let excel: GraphQLTestClient;
  beforeAll(async () => { excel = await t.clientFor('school-excel'); });
  const HEADER = ['Full Name', 'Phone', 'E-mail address', 'Staff No', 'Designation', 'Notes'];

  it('unmapped, it is refused with the same "did you mean" hints as the same header in CSV', async () => {
    const book = await staffWorkbook(HEADER, [['Asha Kumari', 9845012345, null, 'XL-1', 'teacher', 'Class teacher']]);
    const xlsx = await send(excel, 'Staff 2024.xlsx', book);
    expect(xlsx.job).toBeNull();
    const csv = await upload('staff-export-2024.csv', {}, excel);
    expect(csv.userErrors).toHaveLength(1);
    expect(xlsx.userErrors).toEqual(csv.userErrors);
    expect(xlsx.userErrors[0]).toMatchObject({ code: 'SCHEMA_MISMATCH', message: expect.stringContaining('Phone: did you mean MOBILE PHONE?') });
    expect(xlsx.userErrors[0].message).toContain('Send columnMapping');
  });

  it('imports with columnMapping and saveMappingAs, the saved headers being the sheet\'s; a later workbook in another order uses it unasked', async () => {
    const book = await staffWorkbook(HEADER, [
      ['Asha Kumari', 9845012345, null, 'XL-1', 'teacher', 'Class teacher, 5B'],
      ['Ravi Shankar', '9845067890', 'ravi@example.org', 'XL-2', 'teacher', null],
      ['Meena Iyer', 12345, null, 'XL-3', 'teacher', null], // too short a phone: the row's error, named by the kind's column
    ]);
    const first = await send(excel, 'Staff 2024.xlsx', book, { columnMapping: STAFF_MAPPING, saveMappingAs: 'Excel staff' });
    expect(first.userErrors).toEqual([]);
    const job = await waitForJob(excel, first.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', format: 'XLSX', rowsCreated: 2, rowsFailed: 1 });
    const { job: reading } = await excel.data(JobReadingDocument, { id: job.id });
    expect(reading).toMatchObject({ columnMappingName: 'Excel staff', columnMapping: expect.arrayContaining([{ from: 'Notes', to: null }]) });
    const { job: withErrors } = await excel.data(JobErrorsDocument, { id: job.id, first: 10 });
    expect(withErrors!.errors.edges.map((e) => e.node)).toEqual([{ line: 4, column: 'MOBILE PHONE', value: '12345', message: expect.any(String) }]);
    expect(await userByExternalId('XL-1')).toEqual({ name: 'Asha Kumari', phone: '9845012345', email: null, user_type: 'teacher', external_id: 'XL-1' });
    const { columnMappings } = await excel.data(ColumnMappingsDocument, { kind: 'USERS' });
    expect(columnMappings.map((m) => [m.name, m.headers])).toEqual([['Excel staff', HEADER]]);

    const later = await staffWorkbook(['Staff No', 'Designation', 'Full Name', 'Notes', 'Phone', 'E-mail address'], [
      ['XL-2', 'teacher', 'Ravi Shankar', 'phone changed', 9845067891, null],
      ['XL-4', 'other', 'Kiran Rao', null, 9880054321, 'kiran@example.org'],
    ]);
    const second = await send(excel, 'Staff 2025.xlsx', later);
    expect(second.userErrors).toEqual([]);
    const job2 = await waitForJob(excel, second.job!.id);
    expect(job2).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsUpdated: 1, rowsFailed: 0 });
    expect((await excel.data(JobReadingDocument, { id: job2.id })).job?.columnMappingName).toBe('Excel staff');
    expect(await userByExternalId('XL-2')).toMatchObject({ name: 'Ravi Shankar', phone: '9845067891' });
    expect(await userByExternalId('XL-4')).toMatchObject({ name: 'Kiran Rao', user_type: 'other', email: 'kiran@example.org' });
  });

  it('a mapping saved with a CSV applies to a workbook with the same header', async () => {
    const other = await t.clientFor('school-mixed');
    const saved = await upload('staff-export-2024.csv', { columnMapping: STAFF_MAPPING, saveMappingAs: 'from CSV', allowDuplicateFile: true }, other);
    expect(saved.userErrors).toEqual([]);
    await waitForJob(other, saved.job!.id);
    const book = await staffWorkbook(HEADER, [['Devi Prasad', 9845000001, null, 'XL-9', 'teacher', null]]);
    const payload = await send(other, 'staff.xlsx', book);
    expect(payload.userErrors).toEqual([]);
    const job = await waitForJob(other, payload.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1 });
    expect((await other.data(JobReadingDocument, { id: job.id })).job?.columnMappingName).toBe('from CSV');
  });

  it('a mapping naming a column the sheet does not have is refused naming columnMapping and the sheet\'s header', async () => {
    const book = await staffWorkbook(HEADER, [['A B', 9845000002, null, 'XL-10', 'teacher', null]]);
    const payload = await send(excel, 'staff.xlsx', book, { columnMapping: [{ from: 'Telefon', to: 'MOBILE PHONE' }], allowDuplicateFile: true });
    expect(payload.job).toBeNull();
    expect(payload.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('"Telefon", which the sheet\'s header (Full Name, Phone'), field: ['input', 'columnMapping'] }]);
  });
});

describe('NDJSON keys are mapped as a header is (the first record\'s keys are the header)', () => {
  let json: GraphQLTestClient;
  beforeAll(async () => { json = await t.clientFor('school-json'); });
  const record = (name: string, phone: string, id: string, extra: Record<string, unknown> = {}) =>
    ({ 'Full Name': name, Phone: phone, 'Staff No': id, Designation: 'teacher', Notes: 'ignored', ...extra });

  it('imports with columnMapping (an ignored key skipped on every line), saves it, and a later file with those keys uses it', async () => {
    const unmapped = await send(json, 'staff.ndjson', ndjson([record('Asha Kumari', '9845012345', 'NJ-1')]));
    expect(unmapped.userErrors).toEqual([expect.objectContaining({ code: 'SCHEMA_MISMATCH', message: expect.stringContaining('Phone: did you mean MOBILE PHONE?') })]);

    const file = ndjson([
      record('Asha Kumari', '9845012345', 'NJ-1'),
      record('Ravi Shankar', '9845067890', 'NJ-2', { 'E-mail address': 'ravi@example.org' }), // a key the first record left out, mapped too
      record('Meena Iyer', '9845067892', 'NJ-3', { Room: '5B' }), // a key neither the kind nor the mapping knows: that row's error
    ]);
    const payload = await send(json, 'staff.ndjson', file, { columnMapping: STAFF_MAPPING, saveMappingAs: 'JSON staff' });
    expect(payload.userErrors).toEqual([]);
    const job = await waitForJob(json, payload.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', format: 'NDJSON', rowsCreated: 2, rowsFailed: 1 });
    const { job: withErrors } = await json.data(JobErrorsDocument, { id: job.id, first: 10 });
    expect(withErrors!.errors.edges.map((e) => e.node)).toEqual([{ line: 3, column: 'Room', value: null, message: 'unknown field "Room"' }]);
    expect(await userByExternalId('NJ-2')).toEqual({ name: 'Ravi Shankar', phone: '9845067890', email: 'ravi@example.org', user_type: 'teacher', external_id: 'NJ-2' });
    const { columnMappings } = await json.data(ColumnMappingsDocument, { kind: 'USERS' });
    expect(columnMappings.map((m) => [m.name, m.headers])).toEqual([['JSON staff', ['Full Name', 'Phone', 'Staff No', 'Designation', 'Notes']]]);

    const later = await send(json, 'staff-2.ndjson', ndjson([{ Designation: 'other', 'Staff No': 'NJ-4', Notes: '', Phone: '9880054321', 'Full Name': 'Kiran Rao' }]));
    expect(later.userErrors).toEqual([]);
    const job2 = await waitForJob(json, later.job!.id);
    expect(job2).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsFailed: 0 });
    expect((await json.data(JobReadingDocument, { id: job2.id })).job?.columnMappingName).toBe('JSON staff');
    expect(await userByExternalId('NJ-4')).toMatchObject({ name: 'Kiran Rao', user_type: 'other' });
  });

  it('a mapping that swaps two of the kind\'s own names holds on every line, the fast path for plain rows included', async () => {
    // The exporter's event_type is the kind's event_name, and the other way round.
    const lines = Array.from({ length: 50 }, (_, i) => ({ event_type: 'track', event_name: 'page_view', user_id: `u${i}`, inserted_at: '2024-04-13 14:36:15', metadata: { n: i }, event_id: `swap-${i}` }));
    const payload = await json.upload(UploadImportDocument, {
      input: { kind: 'EVENTS', columnMapping: [{ from: 'event_type', to: 'event_name' }, { from: 'event_name', to: 'event_type' }] },
    }, { name: 'events.ndjson', content: ndjson(lines) });
    expect(payload.body.data!.uploadImport.userErrors).toEqual([]);
    const job = await waitForJob(json, payload.body.data!.uploadImport.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 50, rowsFailed: 0 });
    const rows = await t.app.db.query<{ event_type: string; event_name: string }>(
      `select event_type, event_name from events where event_id in ('swap-0', 'swap-49') order by line`);
    expect(rows).toEqual([{ event_type: 'page_view', event_name: 'track' }, { event_type: 'page_view', event_name: 'track' }]);
  });

  it('a mapping may name keys the first record lacks; one that misses a key of it is SCHEMA_MISMATCH with the hints', async () => {
    const typo = STAFF_MAPPING.map((m) => (m.from === 'Phone' ? { from: 'Telefon', to: 'MOBILE PHONE' } : m));
    const payload = await send(json, 'staff.ndjson', ndjson([record('A B', '9845000003', 'NJ-9')]), { columnMapping: typo, allowDuplicateFile: true });
    expect(payload.job).toBeNull();
    expect(payload.userErrors).toEqual([{
      code: 'SCHEMA_MISMATCH', field: ['input', 'file'],
      message: expect.stringMatching(/^The file's columns \(with the columnMapping given\) do not match USERS: unknown column: Phone\. Phone: did you mean MOBILE PHONE\?/),
    }]);
  });
});

describe('a refusal for the file\'s columns names them as the server read them (fileColumns), whatever the file\'s packing', () => {
  const HEADER = ['Full Name', 'Phone', 'E-mail address', 'Staff No', 'Designation', 'Notes'];
  const csvText = `${HEADER.join(',')}\r\nAsha Kumari,9845012345,,FC-1,teacher,\r\n`;
  const utf16 = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
  let packed: GraphQLTestClient;
  beforeAll(async () => { packed = await t.clientFor('school-packed'); });

  const refusal = async (name: string, content: Buffer, options: Omit<UploadImportInput, 'file' | 'kind'> = {}) => {
    const { body } = await packed.upload(UploadImportFileColumnsDocument, { input: { kind: 'USERS', allowDuplicateFile: true, ...options } }, { name, content });
    expect(body.errors).toBeUndefined();
    expect(body.data!.uploadImport.job).toBeNull();
    return body.data!.uploadImport.userErrors;
  };

  it.each([
    ['a CSV', 'staff.csv', () => Buffer.from(csvText)],
    ['a gzipped CSV', 'staff.csv.gz', () => zlib.gzipSync(csvText)],
    ['a UTF-16 CSV', 'staff.csv', () => utf16(csvText)],
    ['an XLSX workbook', 'staff.xlsx', () => staffWorkbook(HEADER, [['Asha Kumari', 9845012345, null, 'FC-1', 'teacher', null]])],
    ['a gzipped NDJSON file (the first record\'s keys)', 'staff.ndjson.gz', () => zlib.gzipSync(ndjson([Object.fromEntries(HEADER.map((h) => [h, 'x']))]))],
  ])('%s', async (_what, name, content) => {
    expect(await refusal(name, await content())).toEqual([{ code: 'SCHEMA_MISMATCH', field: ['input', 'file'], fileColumns: HEADER }]);
  });

  it('a columnMapping that names a column the file lacks is refused with the file\'s columns too', async () => {
    const errors = await refusal('staff.xlsx', await staffWorkbook(HEADER, [['A', 1, null, 'FC-2', 'teacher', null]]), { columnMapping: [{ from: 'Telefon', to: 'MOBILE PHONE' }] });
    expect(errors).toEqual([{ code: 'INVALID_INPUT', field: ['input', 'columnMapping'], fileColumns: HEADER }]);
  });

  it('a header wider than a mapping can name (over 500 columns) is not echoed back', async () => {
    const wide = Array.from({ length: 501 }, (_, i) => `Column ${i}`);
    expect(await refusal('wide.csv', Buffer.from(`${wide.join(',')}\n${wide.map(() => 'x').join(',')}\n`)))
      .toEqual([{ code: 'SCHEMA_MISMATCH', field: ['input', 'file'], fileColumns: null }]);
  });

  it('other refusals carry none', async () => {
    expect(await refusal('empty.csv', Buffer.from(''))).toEqual([{ code: 'INVALID_FILE', field: ['input', 'file'], fileColumns: null }]);
  });
});
