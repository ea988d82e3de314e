/**
 * A failed row with several bad cells: its text is kept once, not once per bad cell. Rows of a few
 * MiB each with five bad cells used to make one batch's errors a string over V8's limit, so the
 * whole job failed with "Invalid string length" (logged as an error), and every kept error held
 * the row's full text, the database growing by five times the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobReportDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv, type EventRow } from './support/events.js';
import { jobUuid, waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let owner: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp();
  owner = await t.clientFor('owner');
});
afterAll(() => t?.close());

/** A row with five bad cells (event_type, screen_width, screen_height, inserted_at, metadata). */
const badRow = (i: number, overrides: EventRow = {}) => eventRow(i, {
  event_type: 'zap', screen_width: '-1', screen_height: 'tall', inserted_at: 'yesterday', metadata: '{', ...overrides,
});

async function importCsv(content: string) {
  const { body } = await owner.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'bad.csv', content });
  return waitForJob(owner, body.data!.uploadImport.job!.id, 50_000);
}

async function report(jobId: string): Promise<Response> {
  const { job } = await owner.data(JobReportDocument, { id: jobId });
  return fetch(job!.errorReportUrl!, { headers: { authorization: `Bearer ${owner.key}` } });
}

describe('failed rows with several bad cells', () => {
  it('the report shows the original row on each of the row\'s errors', async () => {
    const csv = eventsCsv([badRow(1), eventRow(2), badRow(3, { screen_width: '1', screen_height: '2' })]);
    const job = await importCsv(csv);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 1, rowsFailed: 2 });
    const lines = (await (await report(job.id)).text()).split('\r\n').slice(1, -1);
    const original = csv.split('\n');
    const rowCell = (line: number) => `"${original[line - 1].replace(/"/g, '""')}"`;
    expect(lines.map((l) => Number(l.split(',')[0]))).toEqual([2, 2, 2, 2, 2, 4, 4, 4]);
    for (const l of lines) expect(l.endsWith(`,${rowCell(Number(l.split(',')[0]))}`)).toBe(true);
  });

  it('rows of MiBs with five bad cells each: the job completes, each row is stored once, the report has every error', async () => {
    const rows = 30;
    const csv = eventsCsv(Array.from({ length: rows }, (_, i) => badRow(i, { user_agent: 'u'.repeat(4_000_000) })));
    const job = await importCsv(csv);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsFailed: rows, failureReason: null });

    const [stored] = await t.app.db.query<{ errors: number; raw: number }>(
      'select count(*)::int as errors, sum(octet_length(raw_row))::float8 as raw from job_errors where job_id = $1', [jobUuid(job.id)]);
    expect(stored.errors).toBe(rows * 5);
    expect(stored.raw).toBeLessThan(csv.length);

    // The report, streamed (it is five times the file): every error on its own line, each with its row.
    const res = await report(job.id);
    expect(res.status).toBe(200);
    let bytes = 0;
    let lines = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      for (const b of chunk) if (b === 10) lines++;
    }
    expect(lines).toBe(1 + rows * 5);
    expect(bytes).toBeGreaterThan(5 * (csv.length - 200));
  }, 58_000);
});
