/** COLLECTION (Connect's event import; docs/kinds/collection.md): any JSON object into a named collection, deduplicated by id. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobErrorsDocument, JobFacetsDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 2 });
  client = await t.clientFor('connect');
});
afterAll(() => t?.close());

async function upload(name: string, content: string, collection?: string | null) {
  const { body } = await client.upload(UploadImportDocument, { input: { kind: 'COLLECTION', collection } }, { name, content });
  return body.data!.uploadImport;
}

async function importInto(collection: string, name: string, content: string) {
  const payload = await upload(name, content, collection);
  expect(payload.userErrors).toEqual([]);
  const job = await waitForJob(client, payload.job!.id);
  return (await client.data(JobFacetsDocument, { id: job.id })).job!;
}

const recordsOf = (collection: string) => t.app.db.query<{ record_id: string | null; data: unknown; line: number }>(
  'select record_id, data, line from collection_records where collection = $1 order by id', [collection]);

describe('COLLECTION', () => {
  it("imports the seed's example file, one JSON object per line", async () => {
    const file = '{ "product": "12 red roses", "quantity": 5, "price": 25.00 }\n{ "product": "White bouquet", "quantity": 2, "price": 48.40 }\n';
    const job = await importInto('purchases', 'purchases.json', file);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 2, rowsFailed: 0 });
    expect((await recordsOf('purchases')).map((r) => r.data)).toEqual([
      { product: '12 red roses', quantity: 5, price: 25 },
      { product: 'White bouquet', quantity: 2, price: 48.4 },
    ]);
  });

  it('stores numbers exactly as the file writes them (prices, big ids), not rounded to doubles', async () => {
    const job = await importInto('exact', 'exact.json', '{"sku": 12345678901234567890123, "price": 0.1000000000000000000001}\n');
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 1 });
    const [row] = await t.app.db.query<{ data: string }>(`select data::text as data from collection_records where collection = 'exact'`);
    expect(row.data).toBe('{"sku": 12345678901234567890123, "price": 0.1000000000000000000001}');
  });

  it('refuses a JSON array whole, as the seed says', async () => {
    const payload = await upload('purchases.json', '[{ "product": "x" }, { "product": "y" }]', 'purchases');
    expect(payload.job).toBeNull();
    expect(payload.userErrors[0]).toMatchObject({ code: 'INVALID_FILE' });
    expect(payload.userErrors[0].message).toContain('JSON array');
  });

  it('skips an id the collection already holds or that came earlier in the file, per collection', async () => {
    const lines = (ids: (string | number)[]) => ids.map((id, i) => JSON.stringify({ id, n: i })).join('\n');
    const first = await importInto('orders', 'a.ndjson', lines(['a', 'b', 'a', 7]));
    expect(first).toMatchObject({ rowsProcessed: 4, rowsImported: 3, rowsDuplicate: 1 });
    const second = await importInto('orders', 'b.ndjson', lines(['b', 'c', 7]));
    expect(second).toMatchObject({ rowsImported: 1, rowsDuplicate: 2 });
    const other = await importInto('refunds', 'c.ndjson', lines(['a']));
    expect(other).toMatchObject({ rowsImported: 1, rowsDuplicate: 0 });
    expect((await recordsOf('orders')).map((r) => r.record_id)).toEqual(['a', 'b', '7', 'c']);
  });

  it('refuses a numeric id too large to keep exactly, rather than rounding two ids into one', async () => {
    const file = '{"id": 9007199254740993}\n{"id": 9007199254740992}\n{"id": "9007199254740993"}\n{"id": 9007199254740991}\n';
    const job = await importInto('big-ids', 'big.ndjson', file);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 2, rowsFailed: 2, rowsDuplicate: 0 });
    const errors = (await client.data(JobErrorsDocument, { id: job.id, first: 10 })).job!.errors.edges.map((e) => e.node);
    // No value shown: it would be the rounded number, not the file's.
    expect(errors.map((e) => [e.line, e.column, e.value, e.message])).toEqual([1, 2].map((line) => [line, 'id', null, 'id is a number too large to keep exactly (beyond 2^53 - 1); send it as a string']));
    expect((await recordsOf('big-ids')).map((r) => r.record_id).sort()).toEqual(['9007199254740991', '9007199254740993']);
  });

  it('takes CSV rows as objects of their columns', async () => {
    const job = await importInto('sheet', 'sheet.csv', 'id,product,quantity\nr1,roses,5\n,tulips,\n');
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 2 });
    // Rows with an id go through the dedup path, so insertion order is not file order: by line.
    expect((await recordsOf('sheet')).sort((a, b) => a.line - b.line).map((r) => [r.record_id, r.data])).toEqual([
      ['r1', { id: 'r1', product: 'roses', quantity: '5' }],
      [null, { id: '', product: 'tulips', quantity: '' }],
    ]);
  });

  it('needs a valid collection name, and no other kind takes one', async () => {
    expect((await upload('x.ndjson', '{"a":1}\n', null)).userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['input', 'collection'] });
    expect((await upload('x.ndjson', '{"a":1}\n', 'bad name!')).userErrors[0]).toMatchObject({ code: 'INVALID_INPUT' });
    const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS', collection: 'c' } }, { name: 'e.csv', content: 'event_type,inserted_at\n' });
    expect(body.data!.uploadImport.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', message: 'collection is only for COLLECTION imports' });
  });
});
