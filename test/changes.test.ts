/**
 * What a roster import changes, row by row: an UPDATED row lists each value it changed with the
 * value it replaced; a row equal to the stored record is UNCHANGED and writes nothing; and a dry
 * run reports the same outcomes, changes and counts as the real run, writing no record. Batches
 * of 2 rows, so rows about one record meet across batches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLTestClient } from './support/client.js';
import { csv, importFile } from './support/rosterImports.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 2 });
  client = await t.clientFor('changes');
});
afterAll(() => t?.close());

const USER_HEADER = 'NAME,MOBILE PHONE,EMAIL,SCHOOL ID,USER_TYPE,ROLES,USER ID,External ID';

const storedUser = (externalId: string) => t.app.db.query<{ name: string; phone: string | null; email: string | null; roles: string[] | null; job_id: string; updated_at: Date }>(
  'select name, phone, email, roles, job_id::text, updated_at from users where external_id = $1', [externalId]).then((rows) => rows[0]);

describe('changes and UNCHANGED', () => {
  it('an update lists what it changed; a row equal to the record (in another spelling, or with empty cells) is UNCHANGED and writes nothing', async () => {
    const first = await importFile(client, 'USERS', 'users.csv', csv(USER_HEADER,
      'Asha,9876500000,,,teacher,"PUBLIC,ORG_ADMIN",,U-1',
      'Ravi,9876500001,,,teacher,,,U-2',
      'Mira,,mira@example.org,,other,,,U-3'));
    expect(first.job).toMatchObject({ status: 'COMPLETED', rowsCreated: 3, rowsUnchanged: 0 });
    const miraBefore = await storedUser('U-3');

    const second = await importFile(client, 'USERS', 'users-again.csv', csv(USER_HEADER,
      'Asha,98765 00000,,,teacher," PUBLIC , ORG_ADMIN",,U-1', // the same values, written otherwise
      'Ravi Kumar,9876500001,ravi@example.org,,,,,U-2',
      'Mira,,,,,,,U-3', // empty cells give no value: nothing to change
      'Zoe,9876500004,,,teacher,,,U-4'));
    expect(second.job).toMatchObject({ status: 'COMPLETED', rowsProcessed: 4, rowsCreated: 1, rowsUpdated: 1, rowsUnchanged: 2, rowsImported: 2, rowsFailed: 0 });
    expect(second.outcomes.map(({ line, outcome, changes }) => ({ line, outcome, changes }))).toEqual([
      { line: 2, outcome: 'UNCHANGED', changes: null },
      { line: 3, outcome: 'UPDATED', changes: [{ column: 'NAME', from: 'Ravi', to: 'Ravi Kumar' }, { column: 'EMAIL', from: null, to: 'ravi@example.org' }] },
      { line: 4, outcome: 'UNCHANGED', changes: null },
      { line: 5, outcome: 'CREATED', changes: null },
    ]);
    // UNCHANGED wrote nothing: the record still names the job that wrote it, unchanged since.
    expect(await storedUser('U-3')).toEqual(miraBefore);
    expect((await storedUser('U-2'))).toMatchObject({ name: 'Ravi Kumar', email: 'ravi@example.org', phone: '9876500001' });
  });

  it('two rows of one file on one record, in different batches: each lists its own change from what the row before left', async () => {
    const { job, outcomes } = await importFile(client, 'USERS', 'twice.csv', csv(USER_HEADER,
      'Asha B,,,,,,,U-1',
      'Filler,9876500005,,,teacher,,,U-5',
      'Asha C,,asha@example.org,,,,,U-1'));
    expect(job).toMatchObject({ rowsUpdated: 2, rowsCreated: 1 });
    expect(outcomes.filter((o) => o.outcome === 'UPDATED').map((o) => [o.line, o.changes])).toEqual([
      [2, [{ column: 'NAME', from: 'Asha', to: 'Asha B' }]],
      [4, [{ column: 'NAME', from: 'Asha B', to: 'Asha C' }, { column: 'EMAIL', from: null, to: 'asha@example.org' }]],
    ]);
  });

  it('a dry run reports the outcomes, changes and counts the real run then reports, and writes no record', async () => {
    const file = csv(USER_HEADER,
      'Asha C,,asha@example.org,,,,,U-1', // unchanged
      'Ravi K,,,,,,,U-2',
      'New One,9876500006,,,teacher,,,U-6',
      'New One,,new@example.org,,,,,U-6', // updates, in a later batch, what the dry run "created"
      'Broken,12,,,,,,U-7');
    const before = await t.app.db.query('select id, name, email, phone, job_id, updated_at from users order by id');
    const dry = await importFile(client, 'USERS', 'preview.csv', file, { dryRun: true });
    expect(await t.app.db.query('select id, name, email, phone, job_id, updated_at from users order by id')).toEqual(before);
    const real = await importFile(client, 'USERS', 'preview.csv', file);

    const counts = ({ rowsProcessed, rowsCreated, rowsUpdated, rowsUnchanged, rowsFailed }: typeof dry.job) => ({ rowsProcessed, rowsCreated, rowsUpdated, rowsUnchanged, rowsFailed });
    expect(counts(dry.job)).toEqual({ rowsProcessed: 5, rowsCreated: 1, rowsUpdated: 2, rowsUnchanged: 1, rowsFailed: 1 });
    expect(counts(real.job)).toEqual(counts(dry.job));
    expect(dry.job.rowsImported).toBe(0);
    const shape = (o: (typeof dry.outcomes)[number]) => ({ line: o.line, outcome: o.outcome, changes: o.changes });
    expect(dry.outcomes.map(shape)).toEqual(real.outcomes.map(shape));
    expect(dry.outcomes.map(shape)).toEqual([
      { line: 2, outcome: 'UNCHANGED', changes: null },
      { line: 3, outcome: 'UPDATED', changes: [{ column: 'NAME', from: 'Ravi Kumar', to: 'Ravi K' }] },
      { line: 4, outcome: 'CREATED', changes: null },
      { line: 5, outcome: 'UPDATED', changes: [{ column: 'EMAIL', from: null, to: 'new@example.org' }] },
    ]);
    expect(dry.errors).toEqual(real.errors);
  });

  it('LOCATIONS: a changed parent is shown under its column, and a file imported twice is all UNCHANGED', async () => {
    const file = csv('code,name,parentCode,parentId,type', 'S,State,,,state', 'D1,One,S,,district', 'D2,Two,S,,district', 'B,Block,D1,,block');
    expect((await importFile(client, 'LOCATIONS', 'tree.csv', file)).job).toMatchObject({ rowsCreated: 4 });
    const again = await importFile(client, 'LOCATIONS', 'tree.csv', file);
    expect(again.job).toMatchObject({ rowsCreated: 0, rowsUpdated: 0, rowsUnchanged: 4, rowsImported: 0 });
    const [d1, d2] = (await t.app.db.query<{ id: string }>("select id::text from locations where code in ('D1', 'D2') order by code")).map((r) => r.id);
    const moved = await importFile(client, 'LOCATIONS', 'move.csv', csv('code,name,parentCode,parentId,type', 'B,Block,D2,,block'));
    expect(moved.outcomes[0].changes).toEqual([{ column: 'parentId', from: d1, to: d2 }]);
  });
});
