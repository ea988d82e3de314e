/** importBatch: records in the request, the same checks as a file, the finished job in the answer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportBatchDocument, JobErrorsDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { nestedJson } from './support/hostileInput.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ maxJsonBodyBytes: 1024 * 1024 });
  client = await t.clientFor('batch');
});
afterAll(() => t?.close());

const record = (i: number) => ({ event_type: 'track', event_name: 'clicked', user_id: `u${i}`, inserted_at: '2024-07-28T08:55:35Z', metadata: { i } });

describe('importBatch', () => {
  it('imports the records and answers with the finished job; a bad record is an error at its position', async () => {
    const records: unknown[] = Array.from({ length: 50 }, (_, i) => record(i));
    records[9] = { event_type: 'track', user_id: 'u9', inserted_at: '2024-07-28T08:55:35Z' };
    const { importBatch } = await client.data(ImportBatchDocument, { input: { kind: 'EVENTS', records } });
    expect(importBatch.userErrors).toEqual([]);
    expect(importBatch.job).toMatchObject({ status: 'COMPLETED', format: 'NDJSON', rowsProcessed: 50, rowsImported: 49, rowsFailed: 1 });
    const { job } = await client.data(JobErrorsDocument, { id: importBatch.job!.id, first: 10 });
    expect(job!.errors.edges.map((e) => e.node)).toEqual([{ line: 10, column: 'event_name', value: null, message: 'event_name is required for event_type track' }]);
    const [{ n }] = await t.app.db.query<{ n: number }>('select count(*)::int as n from events where job_id = $1', [Buffer.from(importBatch.job!.id, 'base64').toString().split(':')[1]]);
    expect(n).toBe(49);
  });

  it('writes nothing on a dry run, but reports the same errors', async () => {
    const { importBatch } = await client.data(ImportBatchDocument, { input: { kind: 'EVENTS', dryRun: true, records: [record(1), { event_type: 'nope', inserted_at: 'x' }] } });
    expect(importBatch.job).toMatchObject({ status: 'COMPLETED', dryRun: true, rowsProcessed: 2, rowsImported: 0, rowsFailed: 1 });
    const [{ n }] = await t.app.db.query<{ n: number }>('select count(*)::int as n from events where job_id = $1', [Buffer.from(importBatch.job!.id, 'base64').toString().split(':')[1]]);
    expect(n).toBe(0);
  });

  it('refuses more than 5,000 records with BATCH_TOO_LARGE, and creates no job', async () => {
    const records = Array.from({ length: 5001 }, () => ({}));
    const { importBatch } = await client.data(ImportBatchDocument, { input: { kind: 'EVENTS', records } });
    expect(importBatch.job).toBeNull();
    expect(importBatch.userErrors).toEqual([{ code: 'BATCH_TOO_LARGE', message: 'At most 5000 records per importBatch (got 5001); upload a file for more', field: ['input', 'records'] }]);
  });

  it('refuses a request body over the JSON body limit with 413', async () => {
    const records = Array.from({ length: 3000 }, (_, i) => ({ ...record(i), metadata: { pad: 'x'.repeat(500) } }));
    const { status, body } = await client.request(ImportBatchDocument, { input: { kind: 'EVENTS', records } });
    expect(status).toBe(413);
    expect(body.errors?.[0].message).toBe('The request body is larger than 1048576 bytes');
  });

  // Regression (fixed): a record nested some thousands of levels deep overflowed the stack where
  // the records became NDJSON: "Unexpected error." and an error-level log instead of a row error.
  it('takes records nested 5,000 and 100,000 levels deep as row errors, like a file\'s, and imports the rest', async () => {
    const deep = (depth: number) => `{"event_type":"track","event_name":"deep","user_id":"d${depth}","inserted_at":"2024-07-28T08:55:35Z","metadata":${nestedJson(depth)}}`;
    const query = 'mutation Batch($records: [JSON!]!) { importBatch(input: { kind: EVENTS, records: $records }) { job { id status rowsImported rowsFailed } userErrors { code message } } }';
    const body = `{"query":${JSON.stringify(query)},"variables":{"records":[${JSON.stringify(record(1))},${deep(5000)},${deep(100_000)},${JSON.stringify(record(2))}]}}`;
    const res = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${client.key}` }, body });
    const answer = await res.json() as { data?: { importBatch: { job: { id: string; status: string; rowsImported: number; rowsFailed: number } } }; errors?: unknown };
    expect(answer.errors).toBeUndefined();
    expect(answer.data!.importBatch.job).toMatchObject({ status: 'COMPLETED', rowsImported: 2, rowsFailed: 2 });
    const { job } = await client.data(JobErrorsDocument, { id: answer.data!.importBatch.job.id, first: 10 });
    expect(job!.errors.edges.map((e) => [e.node.line, e.node.message])).toEqual([
      [2, 'metadata is nested more than 64 levels deep'], [3, 'metadata is nested more than 64 levels deep'],
    ]);
  });
});
