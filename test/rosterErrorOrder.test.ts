/**
 * Row errors of the roster kinds come from two passes over a batch: the row's own checks
 * (validate), then the upsert's checks against the database (unknown school, unknown USER ID,
 * unknown parent). Wherever a user reads them they are in line order, with one set of columns:
 * Job.errors (page by page), the CLI's `errors` (text, --json, --csv) and the report at
 * errorReportUrl, which `errors --csv` prints as it is. One batch holds the whole file, so both
 * passes' errors are stored by the same commit.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobErrorsDocument, UploadImportDocument, type ImportKind, type UploadImportInput } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { waitForJob } from './support/jobs.js';
import { postGraphql } from './support/rawGraphql.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'bulk-import.js');
const csv = (...lines: string[]) => lines.join('\n') + '\n';
const MISSING_ID = '7f8a7a43-0000-4000-8000-000000000001';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 1000 });
  client = await t.clientFor('order');
});
afterAll(() => t?.close());

async function importFile(kind: ImportKind, content: string, options: Omit<UploadImportInput, 'file' | 'kind'> = {}) {
  const { body } = await client.upload(UploadImportDocument, { input: { kind, ...options } }, { name: `${kind.toLowerCase()}.csv`, content });
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  return waitForJob(client, body.data!.uploadImport.job!.id);
}

/** Job.errors read two at a time, following the cursors. */
async function errorsPageByPage(id: string) {
  const seen = [];
  let after: string | null | undefined;
  for (;;) {
    const { job } = await client.data(JobErrorsDocument, { id, first: 2, after });
    seen.push(...job!.errors.edges.map((e) => e.node));
    if (!job!.errors.pageInfo.hasNextPage) return seen;
    after = job!.errors.pageInfo.endCursor;
  }
}

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args], {
    env: { ...process.env, BULK_IMPORT_URL: t.url, BULK_IMPORT_KEY: client.key! }, timeout: 45_000,
  });
  return stdout;
}

async function errorReport(id: string): Promise<string> {
  const { json } = await postGraphql<{ job: { errorReportUrl: string } }>(t.url, client.key, 'query($id: ID!) { job(id: $id) { errorReportUrl } }', { id });
  const res = await fetch(json!.data!.job.errorReportUrl, { headers: { authorization: `Bearer ${client.key}` } });
  expect(res.status).toBe(200);
  return res.text();
}

describe('row errors of the roster kinds, from both passes', () => {
  it('USERS: in line order in Job.errors, the CLI and the report, which the CLI CSV is', async () => {
    const job = await importFile('USERS', csv(
      'NAME,MOBILE PHONE,EMAIL,SCHOOL ID,USER_TYPE,ROLES,USER ID,External ID',
      'Lost,9876543210,,SCH-404,teacher,,,U-1', // 2: upsert pass, unknown school
      'Bad Email,,not-an-email,,teacher,,,U-2', // 3: row checks
      'Fine,9876543211,,,other,,,U-3',
      `Ghost,9876543212,,,other,,${MISSING_ID},U-5`, // 5: upsert pass, unknown USER ID
      'Two Wrongs,12ab,,,other,astronaut,,U-6', // 6: row checks, two errors
      'Lost Again,9876543213,,SCH-405,other,,,U-7', // 7: upsert pass
    ));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsFailed: 5 });
    const expected = [
      { line: 2, column: 'SCHOOL ID', value: 'SCH-404', message: 'SCHOOL ID "SCH-404" does not name an organisation of this tenant' },
      { line: 3, column: 'EMAIL', value: 'not-an-email', message: 'EMAIL must be an email address such as name@example.org' },
      { line: 5, column: 'USER ID', value: MISSING_ID, message: `USER ID "${MISSING_ID}" does not name a user of this tenant` },
      { line: 6, column: 'MOBILE PHONE', value: '12ab', message: 'MOBILE PHONE must be a phone number: 7 to 15 digits, optionally after a +' },
      { line: 6, column: 'ROLES', value: 'astronaut', message: expect.stringMatching(/^ROLES has an unknown role "astronaut"/) },
      { line: 7, column: 'SCHOOL ID', value: 'SCH-405', message: 'SCHOOL ID "SCH-405" does not name an organisation of this tenant' },
    ];
    expect(await errorsPageByPage(job.id)).toEqual(expected);
    expect(JSON.parse(await cli('errors', job.id, '--json'))).toEqual(expected);
    expect((await cli('errors', job.id)).split('\n').map((l) => l.replace(/[,:].*/, ''))).toEqual(
      ['line 2', 'line 3', 'line 5', 'line 6', 'line 6', 'line 7', ''],
    );

    const report = await errorReport(job.id);
    const lines = report.split('\r\n');
    expect(lines[0]).toBe('line,column,value,message,row');
    expect(lines.slice(1, -1).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(
      ['2,SCHOOL ID', '3,EMAIL', '5,USER ID', '6,MOBILE PHONE', '6,ROLES', '7,SCHOOL ID'],
    );
    expect(lines[1]).toBe('2,SCHOOL ID,SCH-404,"SCHOOL ID ""SCH-404"" does not name an organisation of this tenant","Lost,9876543210,,SCH-404,teacher,,,U-1"');
    expect(await cli('errors', job.id, '--csv')).toBe(report);
  });

  it('ORGANISATIONS and LOCATIONS: in line order too', async () => {
    const schools = await importFile('ORGANISATIONS', csv(
      'SCHOOL NAME,BLOCK CODE,SCHOOL ID,EXTERNAL ID,STATUS,DESCRIPTION',
      'Nowhere School,NOBLOCK,,X-1,active,', // 2: upsert pass, unknown block
      'Closed School,,,X-2,closed,', // 3: row checks
    ));
    expect((await errorsPageByPage(schools.id)).map((e) => [e.line, e.column])).toEqual([[2, 'BLOCK CODE'], [3, 'STATUS']]);

    await importFile('LOCATIONS', csv('code,name,parentCode,parentId', 'ST,State,,'), { locationType: 'STATE' });
    const districts = await importFile('LOCATIONS', csv(
      'code,name,parentCode,parentId',
      'D1,District One,NOPE,', // 2: upsert pass, unknown parent
      'D2,,ST,', // 3: row checks
      'D3,District Three,ST,',
    ), { locationType: 'DISTRICT' });
    expect(districts).toMatchObject({ rowsCreated: 1, rowsFailed: 2 });
    expect((await errorsPageByPage(districts.id)).map((e) => [e.line, e.column])).toEqual([[2, 'parentCode'], [3, 'name']]);
    const report = (await errorReport(districts.id)).split('\r\n').slice(1, -1).map((l) => l.split(',')[0]);
    expect(report).toEqual(['2', '3']);
  });
});
