/**
 * USERS and empty cells, one rule for every column (src/kinds/users.ts): a cell that is
 * empty or only spaces (in NDJSON also null or missing) gives no value. A new user gets NULL
 * there; an update leaves the stored value as it is, and an import never clears one. What a user
 * must have (NAME, MOBILE PHONE or EMAIL, SCHOOL ID or External ID) is asked of new users only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UploadImportDocument, JobErrorsDocument, type ImportFormat } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const HEADER = 'NAME,MOBILE PHONE,EMAIL,SCHOOL ID,USER_TYPE,ROLES,USER ID,External ID';
const csv = (...lines: string[]) => [HEADER, ...lines].join('\n') + '\n';

let t: TestApp;
let client: GraphQLTestClient;
let schoolId: string;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 2 });
  client = await t.clientFor('empty-cells');
  const schools = await importFile('ORGANISATIONS', 'SCHOOL NAME,BLOCK CODE,SCHOOL ID,EXTERNAL ID,STATUS,DESCRIPTION\nOne,,,SCH-1,active,\nTwo,,,SCH-2,active,\n');
  expect(schools.job.rowsCreated).toBe(2);
  [{ id: schoolId }] = await t.app.db.query<{ id: string }>("select id::text from organisations where external_id = 'SCH-1'");
});
afterAll(() => t?.close());

async function importFile(kind: 'USERS' | 'ORGANISATIONS', content: string, format: ImportFormat = 'CSV') {
  const { body } = await client.upload(UploadImportDocument, { input: { kind, format } }, { name: `${kind}.${format.toLowerCase()}`, content });
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  const job = await waitForJob(client, body.data!.uploadImport.job!.id);
  const { job: withErrors } = await client.data(JobErrorsDocument, { id: job.id, first: 100 });
  return { job, errors: withErrors!.errors.edges.map((e) => e.node) };
}

type Stored = { id: string; name: string; phone: string | null; email: string | null; organisation_id: string | null; user_type: string | null; roles: string[] | null; external_id: string | null };
const stored = (externalId: string) => t.app.db.query<Stored>(
  'select id::text, name, phone, email, organisation_id::text, user_type, roles, external_id from users where external_id = $1', [externalId],
).then((rows) => rows[0]);

describe('USERS: empty cells', () => {
  it('leave every stored value as it is in an update, by USER ID or by External ID, whatever "empty" looks like', async () => {
    const created = await importFile('USERS', csv(
      'Asha,9876543210,asha@example.org,SCH-1,teacher,"CONTENT_CREATOR,COURSE_MENTOR",,E-1',
      'Ravi,9876543211,ravi@example.org,SCH-1,other,PUBLIC,,E-2',
    ));
    expect(created.job).toMatchObject({ rowsCreated: 2, rowsFailed: 0 });
    const asha = await stored('E-1');
    const ravi = await stored('E-2');

    const updated = await importFile('USERS', csv(
      `,,,,,,${asha.id},`, // by USER ID, every other cell empty
      ' ,  ,\t, , , ,,E-2', // by External ID, cells of spaces only
      `,,,,,", ,",${asha.id},`, // ROLES that lists no role
    ));
    expect(updated.errors).toEqual([]);
    // Every cell left the stored value as it was: nothing changed, so each row is UNCHANGED.
    expect(updated.job).toMatchObject({ rowsUnchanged: 3, rowsUpdated: 0, rowsCreated: 0, rowsFailed: 0 });
    expect(await stored('E-1')).toEqual(asha);
    expect(await stored('E-2')).toEqual(ravi);
    expect(asha).toEqual({
      id: asha.id, name: 'Asha', phone: '9876543210', email: 'asha@example.org', organisation_id: schoolId,
      user_type: 'teacher', roles: ['CONTENT_CREATOR', 'COURSE_MENTOR'], external_id: 'E-1',
    });

    // NDJSON: null and a missing field are empty cells too.
    const json = await importFile('USERS', JSON.stringify({ 'USER ID': ravi.id, NAME: null, EMAIL: null, ROLES: '' }) + '\n', 'NDJSON');
    expect(json.job).toMatchObject({ rowsUnchanged: 1, rowsUpdated: 0, rowsFailed: 0 });
    expect(await stored('E-2')).toEqual(ravi);
  });

  it('replace a value only with another valid one; the cells given change, the others stay', async () => {
    const before = await stored('E-1');
    const { job } = await importFile('USERS', csv(`Asha K,,,SCH-2,,ORG_ADMIN,${before.id},`));
    expect(job).toMatchObject({ rowsUpdated: 1, rowsFailed: 0 });
    const [{ id: school2 }] = await t.app.db.query<{ id: string }>("select id::text from organisations where external_id = 'SCH-2'");
    expect(await stored('E-1')).toEqual({ ...before, name: 'Asha K', organisation_id: school2, roles: ['ORG_ADMIN'] });
  });

  it('leave a new user\'s column empty, and a new user must still have a name, a phone or an email, a school or an External ID', async () => {
    const { job, errors } = await importFile('USERS', csv(
      'Sparse,,sparse@example.org,, , ,,E-3', // created: the empty cells stay NULL
      ',9876543212,,SCH-1,,,,E-4', // no name
      'No Contact, ,,SCH-1,,,,E-5', // neither phone nor email
      'No School,9876543213,,,,,,', // neither school nor External ID
    ));
    expect(job).toMatchObject({ rowsCreated: 1, rowsFailed: 3 });
    expect(errors).toEqual([
      { line: 3, column: 'NAME', value: null, message: 'NAME is required' },
      { line: 4, column: 'MOBILE PHONE', value: null, message: 'MOBILE PHONE or EMAIL is required' },
      { line: 5, column: 'SCHOOL ID', value: null, message: 'SCHOOL ID or External ID is required' },
    ]);
    expect(await stored('E-3')).toMatchObject({ name: 'Sparse', phone: null, email: 'sparse@example.org', organisation_id: null, user_type: null, roles: null });
  });
});
