/**
 * Column mappings through the real server, with a staff export whose headers are the school
 * system's, not Sunbird's (test/files/staff-export-*.csv): refused with the expected columns and
 * a hint for each unknown header; imported with a columnMapping that is saved; listed; applied
 * unasked to the next export with the same headers (in another order), for that tenant only.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ColumnMappingsDocument, JobErrorsDocument, JobReadingDocument, UploadImportDocument, type UploadImportInput,
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
