/**
 * CSV dialects through the real server: the delimiter detected from the header line (an Excel
 * semicolon CSV with a BOM, CRLF and accented names, test/files/excel-semicolon-users.csv), a
 * `.tsv` file read with tabs, a delimiter given, RFC 4180 quoting with each; and the same rows
 * stored from one data set whatever its delimiter.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobErrorsDocument, JobReadingDocument, UploadImportDocument, type ImportKind, type UploadImportInput } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { EVENT_COLUMNS, eventRow, manyEvents, type EventRow } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';
import { jobIdFromGlobalId } from '../src/jobs/globalIds.js';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 3 });
  client = await t.clientFor('dialects');
});
afterAll(() => t?.close());

async function upload(kind: ImportKind, name: string, content: string | Buffer, options: Omit<UploadImportInput, 'file' | 'kind'> = {}) {
  const { body } = await client.upload(UploadImportDocument, { input: { kind, allowDuplicateFile: true, ...options } }, { name, content });
  expect(body.errors).toBeUndefined();
  return body.data!.uploadImport;
}

async function importFile(kind: ImportKind, name: string, content: string | Buffer, options: Omit<UploadImportInput, 'file' | 'kind'> = {}) {
  const payload = await upload(kind, name, content, options);
  expect(payload.userErrors).toEqual([]);
  const job = await waitForJob(client, payload.job!.id);
  const { job: reading } = await client.data(JobReadingDocument, { id: job.id });
  const { job: withErrors } = await client.data(JobErrorsDocument, { id: job.id, first: 100 });
  return { job, delimiter: reading!.delimiter, errors: withErrors!.errors.edges.map((e) => e.node) };
}

/** A CSV of events with `delimiter`, quoting what RFC 4180 says to quote. */
function eventsText(rows: EventRow[], delimiter: string, eol = '\n'): string {
  const cell = (v = '') => (v.includes(delimiter) || /["\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  return [EVENT_COLUMNS.join(delimiter), ...rows.map((r) => EVENT_COLUMNS.map((c) => cell(r[c])).join(delimiter))].join(eol) + eol;
}

const storedEvents = (jobId: string) => t.app.db.query<Record<string, unknown>>(
  `select line, event_type, user_id, pathname, user_agent, metadata::text, inserted_at from events where job_id = $1 order by line`, [jobIdFromGlobalId(jobId)]);

describe('the delimiter', () => {
  it('is detected in an Excel semicolon CSV (BOM, CRLF), whose quoted fields keep their semicolons, quotes and accents', async () => {
    const { job, delimiter, errors } = await importFile('USERS', 'Lehrer Liste.csv', await fs.readFile(new URL('files/excel-semicolon-users.csv', import.meta.url)));
    expect(delimiter).toBe(';');
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 4, rowsFailed: 1 });
    expect(errors).toEqual([{ line: 6, column: 'USER_TYPE', value: 'Lehrer', message: expect.any(String) }]);
    const users = await t.app.db.query<{ name: string; email: string | null }>(`select name, email from users order by external_id`);
    expect(users.map((u) => u.name)).toEqual(['Müller; Jürgen', 'Søren "Sam" Kierkegård', 'José Álvarez', 'Françoise Lefèvre']);
  });

  it('is a tab for a .tsv file, and the one given when given', async () => {
    const rows = [eventRow(1, { pathname: '/a,b;c|d' }), eventRow(2, { user_agent: 'tab\tinside' })];
    const tsv = await importFile('EVENTS', 'export.tsv', eventsText(rows, '\t'));
    expect(tsv).toMatchObject({ delimiter: '\t', job: { status: 'COMPLETED', rowsImported: 2 } });
    // Pipes in the header's values would not be counted; here `|` is given, and commas abound in the rows.
    const piped = await importFile('EVENTS', 'export.txt', eventsText(rows, '|'), { delimiter: '|', format: 'CSV' });
    expect(piped).toMatchObject({ delimiter: '|', job: { status: 'COMPLETED', rowsImported: 2 } });
    expect((await storedEvents(piped.job.id)).map((e) => [e.pathname, e.user_agent])).toEqual([['/a,b;c|d', rows[0].user_agent], ['/home/', 'tab\tinside']]);
  });

  it('gives the same stored rows for one data set whatever its delimiter and line ends', async () => {
    const rows = manyEvents(10).map((r, i) => (i % 3 === 0 ? { ...r, user_agent: `a;b|c\td,"e"\nf ${i}` } : r));
    rows[4] = eventRow(4, { event_type: 'nope' });
    const results = [];
    for (const [delimiter, eol] of [[',', '\n'], [';', '\r\n'], ['\t', '\r'], ['|', '\n']]) {
      const { job, errors } = await importFile('EVENTS', 'same.csv', eventsText(rows, delimiter, eol));
      expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 9, rowsFailed: 1 });
      results.push({ errors: errors.map((e) => [e.line, e.column, e.value]), rows: await storedEvents(job.id) });
    }
    expect(results[0].errors).toEqual([[8, 'event_type', 'nope']]); // two rows before it hold a line end each
    for (const other of results.slice(1)) expect(other).toEqual(results[0]);
  });

  it('refuses a delimiter that cannot be one, and a delimiter for NDJSON', async () => {
    for (const delimiter of ['"', ';;', '\n', 'é']) {
      const payload = await upload('EVENTS', 'x.csv', eventsText(manyEvents(1), ','), { delimiter });
      expect(payload.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('delimiter'), field: ['input', 'delimiter'] }]);
    }
    const ndjson = await upload('EVENTS', 'x.ndjson', `${JSON.stringify({ ...eventRow(1), metadata: {} })}\n`, { delimiter: ';' });
    expect(ndjson.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('CSV'), field: ['input', 'delimiter'] }]);
  });
});
