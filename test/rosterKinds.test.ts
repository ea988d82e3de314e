/**
 * USERS, ORGANISATIONS and LOCATIONS (Sunbird, docs/kinds/): files with Sunbird's exact headers,
 * upserts with per-row outcomes, references checked against the database and earlier rows, and
 * every rule's failing row with its line and message. Batches of 2 rows, so references cross
 * batch boundaries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImportBatchDocument, JobErrorsDocument, JobOutcomesDocument, UploadImportDocument, type ImportKind, type UploadImportInput,
} from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 2 });
  client = await t.clientFor('sunbird');
});
afterAll(() => t?.close());

type Options = Omit<UploadImportInput, 'file' | 'kind'>;

async function upload(kind: ImportKind, name: string, content: string, options: Options = {}, as = client) {
  const { body } = await as.upload(UploadImportDocument, { input: { kind, ...options } }, { name, content });
  return body.data!.uploadImport;
}

/** Imports a file and returns the finished job, its errors and its outcomes. */
async function importFile(kind: ImportKind, name: string, content: string, options: Options = {}, as = client) {
  const payload = await upload(kind, name, content, options, as);
  expect(payload.userErrors).toEqual([]);
  const job = await waitForJob(as, payload.job!.id);
  const { job: withErrors } = await as.data(JobErrorsDocument, { id: job.id, first: 1000 });
  const { job: withOutcomes } = await as.data(JobOutcomesDocument, { id: job.id, first: 1000 });
  return {
    job,
    errors: withErrors!.errors.edges.map((e) => e.node),
    outcomes: withOutcomes!.outcomes.edges.map((e) => e.node),
    facets: withOutcomes!.facets,
    locationType: withOutcomes!.locationType,
  };
}

const csv = (...lines: string[]) => lines.join('\n') + '\n';
const LOCATION_HEADER = 'code,name,parentCode,parentId';
const ORG_HEADER = 'SCHOOL NAME,BLOCK CODE,SCHOOL ID,EXTERNAL ID,STATUS,DESCRIPTION';
const USER_HEADER = 'NAME,MOBILE PHONE,EMAIL,SCHOOL ID,USER_TYPE,ROLES,USER ID,External ID';

const locationRow = (code: string) => t.app.db.query<{ id: string; name: string; type: string; parent_id: string | null }>(
  'select id::text, name, type, parent_id::text from locations where code = $1', [code]).then((rows) => rows[0]);

// The tests build one hierarchy, in order: a state, its districts (the seed's own example), a
// block, schools in the block, users in the schools.
let state: string;
let district1: string;
let block: string;
let school: string;

describe('LOCATIONS', () => {
  it('creates a state, then the seed\'s two districts under it by parentCode, each with its id', async () => {
    const states = await importFile('LOCATIONS', 'states.csv', csv(LOCATION_HEADER, 'APCODE,Andhra Pradesh,,'), { locationType: 'STATE' });
    expect(states.job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsUpdated: 0, rowsImported: 1, rowsFailed: 0 });
    expect(states.locationType).toBe('STATE');
    state = states.outcomes[0].recordId;

    const districts = await importFile('LOCATIONS', 'districts.csv', csv(LOCATION_HEADER, 'APDIST1,APDIST1,APCODE,', 'APDIST2,APDIST2,APCODE,'), { locationType: 'DISTRICT' });
    expect(districts.job).toMatchObject({ status: 'COMPLETED', rowsCreated: 2, rowsUpdated: 0, rowsFailed: 0 });
    expect(districts.outcomes.map((o) => [o.line, o.outcome])).toEqual([[2, 'CREATED'], [3, 'CREATED']]);
    district1 = districts.outcomes[0].recordId;
    expect(await locationRow('APDIST1')).toEqual({ id: district1, name: 'APDIST1', type: 'district', parent_id: state });
    expect(districts.facets).toEqual([{ field: 'type', values: ['district'] }]);
  });

  it('finds a parent by parentId, updates by code, and names the line of each broken rule', async () => {
    const { job, errors, outcomes } = await importFile('LOCATIONS', 'blocks.csv', csv(
      LOCATION_HEADER,
      `BLK1,Block One,,${district1}`,
      'BLK2,Block Two,NOWHERE,',
      'BLK3,Block Three,APCODE,',
      'BLK4,Block Four,,',
      `BLK5,Block Five,APDIST2,${district1}`,
      'BLK1,Block One (renamed),APDIST1,',
      ',No code,APDIST1,',
    ), { locationType: 'BLOCK' });
    expect(job).toMatchObject({ status: 'COMPLETED', rowsProcessed: 7, rowsCreated: 1, rowsUpdated: 1, rowsFailed: 5 });
    expect(errors).toEqual([
      { line: 3, column: 'parentCode', value: 'NOWHERE', message: 'parentCode "NOWHERE" does not name a location of this tenant (in the database or earlier in the file)' },
      { line: 4, column: 'parentCode', value: 'APCODE', message: 'the parent of a block must be a district, but "APCODE" is a state' },
      { line: 5, column: 'parentCode', value: null, message: 'a block needs a parent district: give parentCode or parentId' },
      { line: 6, column: 'parentId', value: district1, message: `parentId and parentCode name different locations ("APDIST2" is ${(await locationRow('APDIST2')).id})` },
      { line: 8, column: 'code', value: null, message: 'code is required' },
    ]);
    block = outcomes[0].recordId;
    expect(outcomes).toEqual([
      { line: 2, outcome: 'CREATED', recordId: block },
      { line: 7, outcome: 'UPDATED', recordId: block },
    ]);
    expect(await locationRow('BLK1')).toMatchObject({ name: 'Block One (renamed)', parent_id: district1 });
  });

  it('takes a whole hierarchy in one file with a type column: a parent earlier in the file, never a later one', async () => {
    const { job, errors } = await importFile('LOCATIONS', 'hierarchy.csv', csv(
      'code,name,parentCode,parentId,type',
      'KA-CL1,Cluster too early,KA-BLK,,cluster',
      'KA,Karnataka,,,state',
      'KA-D1,Bengaluru,KA,,district',
      'KA-BLK,Block,KA-D1,,block',
      'KA-CL2,Cluster,KA-BLK,,cluster',
      'KA-X,Bad type,KA,,village',
    ));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 4, rowsFailed: 2 });
    expect(errors).toEqual([
      { line: 2, column: 'parentCode', value: 'KA-BLK', message: 'parentCode "KA-BLK" does not name a location of this tenant (in the database or earlier in the file)' },
      { line: 7, column: 'type', value: 'village', message: 'type must be one of state, district, block, cluster' },
    ]);
    expect(await locationRow('KA-CL2')).toMatchObject({ type: 'cluster', parent_id: (await locationRow('KA-BLK')).id });
  });

  it('takes clusters as importBatch records, with the location type for the whole batch', async () => {
    const { importBatch } = await client.data(ImportBatchDocument, {
      input: { kind: 'LOCATIONS', locationType: 'CLUSTER', records: [{ code: 'CL-1', name: 'Cluster 1', parentCode: 'BLK1' }, { code: 'CL-2', name: 'Orphan' }] },
    });
    expect(importBatch.userErrors).toEqual([]);
    expect(importBatch.job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsFailed: 1 });
    expect(await locationRow('CL-1')).toMatchObject({ type: 'cluster', parent_id: block });
  });

  it('a dry run of a hierarchy file finds parents from earlier batches too, and reports what the real run then reports', async () => {
    const file = csv('code,name,parentCode,parentId,type', 'GA,Goa,,,state', 'GA-N,North Goa,GA,,district', 'GA-B,Block,GA-N,,block', 'GA-X,Stray,GA-Q,,block');
    const dry = await importFile('LOCATIONS', 'goa.csv', file, { dryRun: true });
    expect(dry.job).toMatchObject({ status: 'COMPLETED', rowsCreated: 0, rowsFailed: 1 });
    expect(await locationRow('GA')).toBeUndefined();
    const real = await importFile('LOCATIONS', 'goa.csv', file);
    expect(real.job).toMatchObject({ rowsCreated: 3, rowsFailed: 1 });
    expect(real.errors).toEqual(dry.errors);
    expect(dry.errors).toEqual([{ line: 5, column: 'parentCode', value: 'GA-Q', message: 'parentCode "GA-Q" does not name a location of this tenant (in the database or earlier in the file)' }]);
  });

  it('needs a location type for the upload or in the file, and no other kind takes one', async () => {
    const needsType = { code: 'INVALID_INPUT', field: ['input', 'locationType'], message: 'LOCATIONS needs locationType (STATE, DISTRICT, BLOCK or CLUSTER), or a type column in the file' };
    expect((await upload('LOCATIONS', 'x.csv', csv(LOCATION_HEADER, 'Z,Z,,'))).userErrors).toEqual([needsType]);
    expect((await upload('LOCATIONS', 'x.ndjson', '{"code":"Z","name":"Z"}\n')).userErrors).toEqual([needsType]);
    const { importBatch } = await client.data(ImportBatchDocument, { input: { kind: 'LOCATIONS', records: [{ code: 'Z', name: 'Z' }] } });
    expect(importBatch).toEqual({ job: null, userErrors: [needsType] });
    const events = await upload('EVENTS', 'e.csv', 'event_type,inserted_at\n', { locationType: 'STATE' });
    expect(events.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['input', 'locationType'], message: 'locationType is only for LOCATIONS imports' }]);
  });

  it("refuses a row whose type column differs from the upload's locationType", async () => {
    const { job, errors } = await importFile('LOCATIONS', 'mixed.csv', csv('code,name,parentCode,parentId,type', 'ZZ,Z,,,state', 'APDIST3,District 3,APCODE,,district'), { locationType: 'DISTRICT' });
    expect(job).toMatchObject({ rowsCreated: 1, rowsFailed: 1 });
    expect(errors).toEqual([{ line: 2, column: 'type', value: 'state', message: "type state differs from the upload's locationType DISTRICT" }]);
  });

  it('refuses a state that names a parent, and a code that is already another type', async () => {
    const { errors } = await importFile('LOCATIONS', 'states2.csv', csv(LOCATION_HEADER, 'TN,Tamil Nadu,APCODE,', 'APDIST1,Now a state?,,'), { locationType: 'STATE' });
    expect(errors).toEqual([
      { line: 2, column: 'parentCode', value: 'APCODE', message: 'a state is the top of the hierarchy and has no parent' },
      { line: 3, column: 'code', value: 'APDIST1', message: 'location "APDIST1" is already a district, not a state' },
    ]);
  });
});

describe('ORGANISATIONS', () => {
  it('creates schools in a block, upserts on EXTERNAL ID, updates by SCHOOL ID, and explains each failure', async () => {
    const first = await importFile('ORGANISATIONS', 'schools.csv', csv(
      ORG_HEADER,
      'Govt School One,BLK1,,SCH-1,active,Primary school',
      'Govt School Two,,,SCH-2,inactive,',
      'Wrong Block,APDIST1,,SCH-3,active,',
      'Unknown Block,NOBLOCK,,SCH-4,active,',
      'Bad Status,BLK1,,SCH-5,closed,',
      ',BLK1,,SCH-6,active,',
      'No Status,,,SCH-7,,',
      'Ghost,,7f8a7a43-0000-4000-8000-000000000000,,active,',
    ));
    expect(first.job).toMatchObject({ status: 'COMPLETED', rowsCreated: 2, rowsUpdated: 0, rowsFailed: 6 });
    expect(first.errors).toEqual([
      { line: 4, column: 'BLOCK CODE', value: 'APDIST1', message: 'BLOCK CODE "APDIST1" is a district, not a block' },
      { line: 5, column: 'BLOCK CODE', value: 'NOBLOCK', message: 'BLOCK CODE "NOBLOCK" does not name a location of this tenant' },
      { line: 6, column: 'STATUS', value: 'closed', message: 'STATUS must be active or inactive' },
      { line: 7, column: 'SCHOOL NAME', value: null, message: 'SCHOOL NAME is required' },
      { line: 8, column: 'STATUS', value: null, message: 'STATUS is required' },
      { line: 9, column: 'SCHOOL ID', value: '7f8a7a43-0000-4000-8000-000000000000', message: 'SCHOOL ID "7f8a7a43-0000-4000-8000-000000000000" does not name an organisation of this tenant' },
    ]);
    school = first.outcomes[0].recordId;
    const [row] = await t.app.db.query<{ location_id: string; status: string; description: string }>(
      'select location_id::text, status, description from organisations where id = $1', [school]);
    expect(row).toEqual({ location_id: block, status: 'active', description: 'Primary school' });

    const second = await importFile('ORGANISATIONS', 'schools-update.csv', csv(
      ORG_HEADER,
      'Govt School Two (renamed),,,SCH-2,Active,',
      `Govt School One,,${school},,inactive,`,
      `Clash,,${school},SCH-2,active,`,
      'Govt School Three,BLK1,,,active,',
    ));
    expect(second.job).toMatchObject({ rowsCreated: 1, rowsUpdated: 2, rowsFailed: 1 });
    expect(second.outcomes.map((o) => [o.line, o.outcome])).toEqual([[2, 'UPDATED'], [3, 'UPDATED'], [5, 'CREATED']]);
    expect(second.outcomes[1].recordId).toBe(school);
    expect(second.errors).toEqual([{ line: 4, column: 'EXTERNAL ID', value: 'SCH-2', message: 'EXTERNAL ID "SCH-2" already belongs to another organisation' }]);
    // An update leaves what a row does not give as it was: School One keeps its block and description.
    const [updated] = await t.app.db.query<{ location_id: string; status: string; description: string; external_id: string }>(
      'select location_id::text, status, description, external_id from organisations where id = $1', [school]);
    expect(updated).toEqual({ location_id: block, status: 'inactive', description: 'Primary school', external_id: 'SCH-1' });
  });
});

describe('USERS', () => {
  it("imports the seed's columns: SCHOOL ID by id or external id, roles, and one rule broken per failing row", async () => {
    const { job, errors, outcomes, facets } = await importFile('USERS', 'users.csv', csv(
      USER_HEADER,
      'Asha,9876543210,,SCH-1,teacher,"CONTENT_CREATOR,COURSE_MENTOR",,T-1',
      `Ravi,,ravi@example.org,${school},other,PUBLIC,,`,
      'No Contact,,,SCH-1,teacher,,,T-3',
      'Bad Phone,12ab,,SCH-1,teacher,,,T-4',
      'Bad Email,,not-an-email,SCH-1,teacher,,,T-5',
      'Lower Roles,9876543211,,SCH-1,teacher,content_creator,,T-6',
      'Odd Role,9876543212,,SCH-1,teacher,ASTRONAUT,,T-7',
      'Odd Type,9876543213,,SCH-1,principal,,,T-8',
      'No School,9876543214,,,teacher,,,',
      'Unknown School,9876543215,,SCH-404,teacher,,,T-10',
      'Unknown User,9876543216,,SCH-1,teacher,,7f8a7a43-0000-4000-8000-000000000001,T-11',
    ));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsProcessed: 11, rowsCreated: 2, rowsUpdated: 0, rowsFailed: 9 });
    expect(errors).toEqual([
      { line: 4, column: 'MOBILE PHONE', value: null, message: 'MOBILE PHONE or EMAIL is required' },
      { line: 5, column: 'MOBILE PHONE', value: '12ab', message: 'MOBILE PHONE must be a phone number: 7 to 15 digits, optionally after a +' },
      { line: 6, column: 'EMAIL', value: 'not-an-email', message: 'EMAIL must be an email address such as name@example.org' },
      { line: 7, column: 'ROLES', value: 'content_creator', message: 'ROLES must be in capital letters: "content_creator" should be CONTENT_CREATOR' },
      { line: 8, column: 'ROLES', value: 'ASTRONAUT', message: expect.stringMatching(/^ROLES has an unknown role "ASTRONAUT"; known roles: PUBLIC, ORG_ADMIN, /) },
      { line: 9, column: 'USER_TYPE', value: 'principal', message: 'USER_TYPE must be teacher or other' },
      { line: 10, column: 'SCHOOL ID', value: null, message: 'SCHOOL ID or External ID is required' },
      { line: 11, column: 'SCHOOL ID', value: 'SCH-404', message: 'SCHOOL ID "SCH-404" does not name an organisation of this tenant' },
      { line: 12, column: 'USER ID', value: '7f8a7a43-0000-4000-8000-000000000001', message: 'USER ID "7f8a7a43-0000-4000-8000-000000000001" does not name a user of this tenant' },
    ]);
    expect(outcomes.map((o) => [o.line, o.outcome])).toEqual([[2, 'CREATED'], [3, 'CREATED']]);
    expect(facets).toEqual([{ field: 'USER_TYPE', values: ['other', 'teacher'] }]);
    const rows = await t.app.db.query<{ name: string; organisation_id: string; roles: string[]; phone: string | null }>(
      'select name, organisation_id::text, roles, phone from users order by name');
    expect(rows).toEqual([
      { name: 'Asha', organisation_id: school, roles: ['CONTENT_CREATOR', 'COURSE_MENTOR'], phone: '9876543210' },
      { name: 'Ravi', organisation_id: school, roles: ['PUBLIC'], phone: null },
    ]);
  });

  it('refuses a natural key too long for its unique index as a row error, and imports the rest', async () => {
    const { job, errors } = await importFile('USERS', 'users-long-key.csv', csv(USER_HEADER,
      `Long,9876500001,,SCH-1,teacher,,,${'K'.repeat(3000)}`,
      'Short,9876500002,,SCH-1,teacher,,,T-LONG-OK'));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsFailed: 1 });
    expect(errors).toEqual([{ line: 2, column: 'External ID', value: 'K'.repeat(100), message: 'External ID is longer than 2000 bytes' }]);
  });

  it('updates by USER ID or by a known External ID, and counts created and updated apart', async () => {
    const [asha] = await t.app.db.query<{ id: string }>("select id::text from users where external_id = 'T-1'");
    const [ravi] = await t.app.db.query<{ id: string }>("select id::text from users where name = 'Ravi'");
    // Header names in other spellings match too (docs/files.md: case- and space-insensitive).
    const { job, outcomes, errors } = await importFile('USERS', 'users-update.csv', csv(
      'name,mobile_phone,email,schoolId,user type,roles,userId,external_id',
      'Asha K,9876500000,,,,,,T-1',
      `Ravi R,,ravi@example.org,SCH-2,,,${ravi.id},R-2`,
      'New Person,+91 98765 43217,,SCH-1,teacher,,,T-12',
      'Asha K again,,asha@example.org,,,,,T-1',
      `Taker,,t@example.org,,,,${ravi.id},T-1`,
    ));
    expect(errors).toEqual([{ line: 6, column: 'External ID', value: 'T-1', message: 'External ID "T-1" already belongs to another user' }]);
    expect(job).toMatchObject({ rowsCreated: 1, rowsUpdated: 3, rowsImported: 4, rowsFailed: 1 });
    expect(outcomes).toEqual([
      { line: 2, outcome: 'UPDATED', recordId: asha.id },
      { line: 3, outcome: 'UPDATED', recordId: ravi.id },
      { line: 4, outcome: 'CREATED', recordId: expect.any(String) },
      { line: 5, outcome: 'UPDATED', recordId: asha.id },
    ]);
    const [a] = await t.app.db.query<{ name: string; phone: string; email: string; organisation_id: string; roles: string[] }>(
      'select name, phone, email, organisation_id::text, roles from users where id = $1', [asha.id]);
    // Two rows updated Asha; what neither gave (school, roles) stays as it was.
    expect(a).toEqual({ name: 'Asha K again', phone: '9876500000', email: 'asha@example.org', organisation_id: school, roles: ['CONTENT_CREATOR', 'COURSE_MENTOR'] });
    const [newcomer] = await t.app.db.query<{ phone: string }>("select phone from users where external_id = 'T-12'");
    expect(newcomer.phone).toBe('+919876543217');
  });

  it('refuses a file whose header misses NAME or has an unknown column, before any job', async () => {
    const payload = await upload('USERS', 'wrong.csv', csv('MOBILE PHONE,SCHOOL,External ID', '9876543210,SCH-1,T-1'));
    expect(payload.job).toBeNull();
    expect(payload.userErrors).toEqual([{
      code: 'SCHEMA_MISMATCH', field: ['input', 'file'],
      message: "The file's columns do not match USERS: missing required column: NAME; unknown column: SCHOOL. SCHOOL: did you mean SCHOOL ID? "
        + 'USERS expects: NAME (required), MOBILE PHONE, EMAIL, SCHOOL ID, USER_TYPE, ROLES, USER ID, External ID. '
        + "Send columnMapping to name the kind's column for each of yours.",
    }]);
  });

  it('takes external ids that change hands within one batch: a rename, a newcomer taking the old id, a swap', async () => {
    // Its own app with large batches: the hand-overs must fall inside one batch's single INSERT.
    const big = await startTestApp({ batchSize: 100 });
    const as = await big.clientFor('shuffle');
    const created = await importFile('USERS', 'pair.csv', csv(USER_HEADER, 'Pat,9876511111,,,other,,,P-1', 'Sam,9876522222,,,other,,,S-1'), {}, as);
    const [pat, sam] = created.outcomes.map((o) => o.recordId);
    const { job, errors } = await importFile('USERS', 'shuffle.csv', csv(
      USER_HEADER,
      `Pat,9876511111,,,,,${pat},P-2`, // Pat gives up P-1...
      'Newcomer,9876533333,,,other,,,P-1', // ...which a new user takes
      `Pat,9876511111,,,,,${pat},TMP`,
      `Sam,9876522222,,,,,${sam},P-2`, // Sam takes Pat's P-2 after Pat moved on to TMP
      `Pat,9876511111,,,,,${pat},S-1`, // and Pat takes Sam's old S-1: a rotation
    ), {}, as);
    expect(errors).toEqual([]);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsUpdated: 4 });
    const ids = await big.app.db.query<{ name: string; external_id: string }>(
      "select name, external_id from users where external_id in ('P-1', 'P-2', 'S-1', 'TMP') order by external_id");
    expect(ids).toEqual([{ name: 'Newcomer', external_id: 'P-1' }, { name: 'Sam', external_id: 'P-2' }, { name: 'Pat', external_id: 'S-1' }]);
    await big.close();
  });

  it('two jobs of one tenant upserting the same external ids at once: each user created once, the other job updates', async () => {
    const both = await startTestApp({ batchSize: 50, maxActiveJobsPerTenant: 2, maxConcurrentUploadsPerTenant: 2, workerConcurrency: 2 });
    const as = await both.clientFor('twice');
    const file = (tag: string) => csv(USER_HEADER, ...Array.from({ length: 4000 }, (_, i) => `User ${i} ${tag},98765${String(i).padStart(5, '0')},,,other,,,C-${i}`));
    const uploads = await Promise.all(['a', 'b'].map((tag) => upload('USERS', `${tag}.csv`, file(tag), {}, as)));
    expect(uploads.map((u) => u.userErrors)).toEqual([[], []]);
    const jobs = await Promise.all(uploads.map((u) => waitForJob(as, u.job!.id)));
    expect(jobs.map((j) => j.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(jobs[0].rowsCreated + jobs[1].rowsCreated).toBe(4000);
    expect(jobs[0].rowsUpdated + jobs[1].rowsUpdated).toBe(4000);
    const [{ n }] = await both.app.db.query<{ n: number }>('select count(*)::int as n from users');
    expect(n).toBe(4000);
    await both.close();
  });

  it('imports NDJSON records with the same rules', async () => {
    const lines = [
      { NAME: 'Json User', EMAIL: 'json@example.org', 'SCHOOL ID': 'SCH-1', USER_TYPE: 'other', 'External ID': 'J-1' },
      { NAME: 'Json Broken', 'MOBILE PHONE': 12345, 'External ID': 'J-2' },
    ].map((o) => JSON.stringify(o)).join('\n');
    const { job, errors } = await importFile('USERS', 'users.ndjson', lines);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 1, rowsFailed: 1 });
    expect(errors).toEqual([{ line: 2, column: 'MOBILE PHONE', value: '12345', message: 'MOBILE PHONE must be a phone number: 7 to 15 digits, optionally after a +' }]);
  });

  it('a dry run checks references and writes nothing; the real run then has the same errors', async () => {
    const file = csv(USER_HEADER, 'Dry One,9876500001,,SCH-1,teacher,,,D-1', 'Dry Two,9876500002,,SCH-999,teacher,,,D-2');
    const dry = await importFile('USERS', 'dry.csv', file, { dryRun: true });
    expect(dry.job).toMatchObject({ status: 'COMPLETED', dryRun: true, rowsCreated: 0, rowsImported: 0, rowsFailed: 1 });
    expect(dry.outcomes).toEqual([]);
    expect(await t.app.db.query("select 1 from users where external_id like 'D-%'")).toEqual([]);
    const real = await importFile('USERS', 'dry.csv', file);
    expect(real.job).toMatchObject({ rowsCreated: 1, rowsFailed: 1 });
    expect(real.errors).toEqual(dry.errors);
  });

  it("never resolves another tenant's school, and its users never see this tenant's", async () => {
    const other = await t.clientFor('other-state');
    const { job, errors } = await importFile('USERS', 'intruder.csv', csv(USER_HEADER, `Intruder,9876500009,,${school},teacher,,,X-1`, 'Intruder 2,9876500008,,SCH-1,teacher,,,X-2'), {}, other);
    expect(job).toMatchObject({ rowsCreated: 0, rowsFailed: 2 });
    expect(errors.map((e) => e.message)).toEqual([
      `SCHOOL ID "${school}" does not name an organisation of this tenant`,
      'SCHOOL ID "SCH-1" does not name an organisation of this tenant',
    ]);
    // The same external id in another tenant is another user, created, not an update of this tenant's.
    const own = await importFile('USERS', 'own.csv', csv(USER_HEADER, 'Their Asha,9876500007,,,teacher,,,T-1'), {}, other);
    expect(own.job).toMatchObject({ rowsCreated: 1, rowsUpdated: 0 });
  });
});
