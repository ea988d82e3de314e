/** USER_EVENTS (docs/kinds/user-events.md) and event_id dedup for both event kinds. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobErrorsDocument, JobFacetsDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 100 });
  client = await t.clientFor('learning');
});
afterAll(() => t?.close());

async function importFile(kind: 'EVENTS' | 'USER_EVENTS', name: string, content: string) {
  const { body } = await client.upload(UploadImportDocument, { input: { kind } }, { name, content });
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  const job = await waitForJob(client, body.data!.uploadImport.job!.id);
  return (await client.data(JobFacetsDocument, { id: job.id })).job!;
}

const HEADER = 'user_id,course_id,question_id,skill_id,correct,timestamp,response_time_ms,attempt';
const interaction = (i: number) => `u${i % 17},course${(i % 3) + 1},q${i},skill${i % 5},${i % 2},2024-03-0${(i % 9) + 1}T10:00:00Z,${1000 + i},${(i % 3) + 1}`;

describe('USER_EVENTS', () => {
  it("answers the seed's num_user_events and course_ids once the job ends", async () => {
    const csv = [HEADER, ...Array.from({ length: 1000 }, (_, i) => interaction(i))].join('\n');
    const job = await importFile('USER_EVENTS', 'interactions.csv', csv);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 1000, rowsFailed: 0 });
    expect(job.facets).toEqual([{ field: 'course_id', values: ['course1', 'course2', 'course3'] }]);
    const [row] = await t.app.db.query<{ correct: boolean; attempt: number }>(
      'select correct, attempt from user_events where question_id = $1', ['q1']);
    expect(row).toEqual({ correct: true, attempt: 2 });
  });

  it('reports each broken rule at its line', async () => {
    const lines = [HEADER,
      'u1,c1,q1,,maybe,2024-03-01T10:00:00Z,,', // line 2
      'u1,c1,q2,,1,2024-03-01T10:00:00Z,-5,0', // line 3
      ',c1,q3,,true,,,', // line 4
      'u1,c1,q4,,FALSE,2024-03-01 10:00:00,,1', // line 5: valid
    ];
    const job = await importFile('USER_EVENTS', 'bad.csv', lines.join('\n'));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 1, rowsFailed: 3 });
    const { job: withErrors } = await client.data(JobErrorsDocument, { id: job.id, first: 20 });
    expect(withErrors!.errors.edges.map((e) => e.node)).toEqual([
      { line: 2, column: 'correct', value: 'maybe', message: 'correct must be 0, 1, true or false' },
      { line: 3, column: 'response_time_ms', value: '-5', message: 'response_time_ms must be an integer of at least 0' },
      { line: 3, column: 'attempt', value: '0', message: 'attempt must be an integer of at least 1' },
      { line: 4, column: 'user_id', value: null, message: 'user_id is required' },
      { line: 4, column: 'timestamp', value: null, message: 'timestamp is required' },
    ]);
  });
});

describe('event_id dedup', () => {
  it('skips and counts an event_id seen earlier in the file or in an earlier import of the tenant', async () => {
    const ndjson = (ids: string[]) => ids.map((id, i) => JSON.stringify({
      event_id: id, user_id: `u${i}`, course_id: 'c', question_id: `q${i}`, correct: true, timestamp: '2024-03-01T10:00:00Z',
    })).join('\n');
    // 250 lines over three batches of 100: "e5" repeats inside a batch and across batches.
    const ids = Array.from({ length: 250 }, (_, i) => (i % 50 === 7 ? 'e5' : `e${i}`));
    const first = await importFile('USER_EVENTS', 'a.ndjson', ndjson(ids));
    const unique = new Set(ids).size;
    expect(first).toMatchObject({ status: 'COMPLETED', rowsProcessed: 250, rowsImported: unique, rowsDuplicate: 250 - unique });

    const again = await importFile('USER_EVENTS', 'b.ndjson', ndjson(['e1', 'e2', 'new-1']));
    expect(again).toMatchObject({ rowsImported: 1, rowsDuplicate: 2 });
    const [{ n }] = await t.app.db.query<{ n: number }>("select count(*)::int as n from user_events where event_id like 'e%' or event_id = 'new-1'");
    expect(n).toBe(unique + 1);
  });

  it('works for EVENTS too, and rows without an event_id are never duplicates', async () => {
    const columns = ['event_type', 'user_id', 'inserted_at', 'event_id'];
    const rows = [
      eventRow(1, { event_id: 'ev-1' }), eventRow(2, { event_id: 'ev-1' }), eventRow(3, { event_id: '' }), eventRow(4, { event_id: '' }),
    ];
    const job = await importFile('EVENTS', 'e.csv', eventsCsv(rows, columns));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 3, rowsDuplicate: 1, rowsFailed: 0 });
    expect(job.facets).toEqual([{ field: 'event_type', values: ['page_view'] }]);
  });

  // Against Postgres a batch COPYs its plain rows while the batch before commits; its keyed rows
  // wait for that commit, or a key in both batches would leave each waiting on the other.
  it('EVENTS with and without event_id, keys repeating in neighbouring batches: each key once, every plain row', async () => {
    const columns = ['event_type', 'user_id', 'inserted_at', 'event_id'];
    // 450 lines over five batches of 100: odd lines are keyed, and each key comes back 100 lines later.
    const rows = Array.from({ length: 450 }, (_, i) => eventRow(i, { event_id: i % 2 ? `k${i % 100}` : '' }));
    const job = await importFile('EVENTS', 'mixed.csv', eventsCsv(rows, columns));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsProcessed: 450, rowsImported: 225 + 50, rowsDuplicate: 225 - 50, rowsFailed: 0 });
    const [{ n, keys }] = await t.app.db.query<{ n: number; keys: number }>(
      'select count(*)::int as n, count(distinct event_id)::int as keys from events where job_id = $1', [Buffer.from(job.id, 'base64').toString().split(':')[1]]);
    expect({ n, keys }).toEqual({ n: 275, keys: 50 });
  });
});
