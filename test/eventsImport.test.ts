/** EVENTS imports end to end: multipart upload -> worker -> COPY -> rows in the table, row errors by line. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobErrorsDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { EVENT_COLUMNS, eventRow, eventsCsv, eventsNdjson, manyEvents } from './support/events.js';
import { jobUuid, waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 100 });
  client = await t.clientFor('acme');
});
afterAll(() => t?.close());

async function importFile(name: string, content: string) {
  const { status, body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name, content });
  expect(status).toBe(200);
  expect(body.errors).toBeUndefined();
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  const job = body.data!.uploadImport.job!;
  expect(job.status).toBe('QUEUED');
  return waitForJob(client, job.id);
}

async function rowsOf(jobGlobalId: string) {
  const jobId = Buffer.from(jobGlobalId, 'base64').toString().split(':')[1];
  return t.app.db.query<{ line: number; event_type: string; user_id: string | null; screen_width: number | null; metadata: unknown; inserted_at: string }>(
    'select line, event_type, user_id, screen_width, metadata, inserted_at::text as inserted_at from events where job_id = $1 order by line', [jobId]);
}

async function errorsOf(id: string) {
  const data = await client.data(JobErrorsDocument, { id, first: 100 });
  return data.job!.errors.edges.map((e) => e.node);
}

describe('CSV', () => {
  it('imports every valid row, each once, and reports each invalid row by its line', async () => {
    const rows = manyEvents(250);
    rows[9] = eventRow(9, { event_type: 'click' }); // line 11 (header is line 1)
    rows[99] = eventRow(99, { inserted_at: 'yesterday' }); // line 101
    rows[199] = eventRow(199, { screen_width: '-3' }); // line 201
    const job = await importFile('events.csv', eventsCsv(rows));

    expect(job).toMatchObject({ status: 'COMPLETED', format: 'CSV', rowsProcessed: 250, rowsImported: 247, rowsFailed: 3, rowsTotal: 250, percentComplete: 100 });
    const stored = await rowsOf(job.id);
    expect(stored).toHaveLength(247);
    expect(new Set(stored.map((r) => r.line)).size).toBe(247);
    expect(stored.map((r) => r.line)).not.toContain(11);
    expect(stored[0]).toMatchObject({ line: 2, event_type: 'page_view', user_id: 'User-0', screen_width: 1086, metadata: { n: 0, name: 'User, "0"' } });
    expect(stored[0].inserted_at).toBe('2024-04-13 14:36:15.453788+00'); // no zone = UTC

    expect(await errorsOf(job.id)).toEqual([
      { line: 11, column: 'event_type', value: 'click', message: 'event_type must be one of identify_user, identify_company, page_view, track' },
      { line: 101, column: 'inserted_at', value: 'yesterday', message: 'inserted_at must be an ISO 8601 timestamp such as 2024-07-28T08:55:35Z' },
      { line: 201, column: 'screen_width', value: '-3', message: 'screen_width must be a non-negative integer' },
    ]);
  });

  it('reports every one of the EVENTS rules (docs/kinds/events.md) with its line and message', async () => {
    const broken: [Partial<Record<string, string>>, { column: string | null; value: string | null; message: string }[]][] = [
      [{ event_type: '' }, [{ column: 'event_type', value: null, message: 'event_type is required' }]],
      [{ event_type: 'page_view', user_id: '' }, [{ column: 'user_id', value: null, message: 'user_id is required for event_type page_view' }]],
      [{ event_type: 'identify_company', user_id: '', company_id: '' }, [{ column: 'company_id', value: null, message: 'company_id is required for event_type identify_company' }]],
      [{ event_type: 'track', event_name: '' }, [{ column: 'event_name', value: null, message: 'event_name is required for event_type track' }]],
      [{ inserted_at: '' }, [{ column: 'inserted_at', value: null, message: 'inserted_at is required' }]],
      [{ inserted_at: '2024-02-30 10:00:00' }, [{ column: 'inserted_at', value: '2024-02-30 10:00:00', message: 'inserted_at is not a real date and time' }]],
      [{ inserted_at: '2024-05-05T14:36:15+5' }, [{ column: 'inserted_at', value: '2024-05-05T14:36:15+5', message: 'inserted_at must be an ISO 8601 timestamp such as 2024-07-28T08:55:35Z' }]],
      [{ screen_height: '1.5' }, [{ column: 'screen_height', value: '1.5', message: 'screen_height must be a non-negative integer' }]],
      [{ metadata: '{"a":' }, [{ column: 'metadata', value: '{"a":', message: expect.stringMatching(/^metadata is not valid JSON: /) as unknown as string }]],
      [{ metadata: '[1,2]' }, [{ column: 'metadata', value: '[1,2]', message: 'metadata must be a JSON object' }]],
    ];
    // Valid edge cases beside them: identify_company needs no user_id, a zone and a fraction are fine, empty metadata is {}.
    const valid = [
      eventRow(100, { event_type: 'identify_company', user_id: '', company_id: 'Company-1' }),
      eventRow(101, { inserted_at: '2024-05-05T14:36:15.123+05:30', metadata: '' }),
    ];
    const job = await importFile('rules.csv', eventsCsv([...broken.map(([o], i) => eventRow(i, o)), ...valid]));
    expect(job).toMatchObject({ rowsImported: 2, rowsFailed: broken.length });
    expect(await errorsOf(job.id)).toEqual(broken.flatMap(([, errors], i) => errors.map((e) => ({ line: i + 2, ...e }))));
  });

  it("imports Userpilot's sample file verbatim", async () => {
    const sample = [
      'event_type,event_name,source,user_id,company_id,hostname,pathname,country_code,screen_width,screen_height,operating_system,browser,browser_language,user_agent,device_type,inserted_at,metadata',
      'identify_user,,web-client,User-7320-001,Company-607-001,campfire-example.userpilot.io,/profile/settings/,DE,1086,696,Mac,Edge,de-DE,Edge - Mozilla/5.0 (Mac) AppleWebKit/537.36,Mobile,2023-12-26 14:36:15.453703,"{""created_at"": ""1694172975"", ""name"": ""User-Alice"", ""prop_0"": ""value_743"", ""prop_1"": ""value_927""}"',
      'page_view,,web-client,User-9491-002,Company-973-002,campfire-example.userpilot.io,/home/,DE,832,809,iOS,Chrome,fr-FR,Chrome - Mozilla/5.0 (iOS) AppleWebKit/537.36,Mobile,2024-04-13 14:36:15.453788,"{}"',
      'track,created_project,web-client,User-6267-003,Company-584-003,campfire-example.userpilot.io,/profile/settings/,PS,1114,704,iOS,Safari,en-US,Safari - Mozilla/5.0 (iOS) AppleWebKit/537.36,Mobile,2024-05-05 14:36:15.453813,"{""created_at"": ""1730810175"", ""name"": ""User-Bob"", ""prop_0"": ""value_17""}"',
    ].join('\n');
    const job = await importFile('file.csv', sample);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 3, rowsFailed: 0 });
    const stored = await rowsOf(job.id);
    expect(stored.map((r) => r.event_type)).toEqual(['identify_user', 'page_view', 'track']);
    expect(stored[0].metadata).toEqual({ created_at: '1694172975', name: 'User-Alice', prop_0: 'value_743', prop_1: 'value_927' });
  });

  it('takes headers in any order and case, CRLF line ends, a BOM, and quoted newlines', async () => {
    const body = '\ufeffINSERTED_AT,Event Type,user_id,METADATA\r\n'
      + '2024-01-01T00:00:00Z,page_view,u1,\r\n'
      + '2024-01-02T00:00:00+02:00,page_view,"multi\nline","{""a"":1}"\n';
    const job = await importFile('mixed.csv', body);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 2, rowsFailed: 0 });
    const stored = await rowsOf(job.id);
    expect(stored.map((r) => r.user_id)).toEqual(['u1', 'multi\nline']);
    expect(stored[0].metadata).toEqual({});
    expect(stored[1].inserted_at).toBe('2024-01-01 22:00:00+00');
  });
});

describe('NDJSON', () => {
  it("imports Userpilot's NDJSON sample lines", async () => {
    const lines = [
      '{"event_type": "identify_user", "user_id": "user_123", "inserted_at": "2024-07-28T08:55:35.874555", "metadata": { "name": "John Doe", "email": "john.doe@example.com", "location": "Dublin, Ireland" },"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36"}',
      '{"event_type": "identify_company","company_id": "company_123","inserted_at": "2024-07-28T08:55:35.874555","metadata": {"name": "Acme Labs Inc.","industry": "Software","size": "200-500","location": "San Francisco, CA"}}',
    ];
    const job = await importFile('file.ndjson', lines.join('\n'));
    expect(job).toMatchObject({ status: 'COMPLETED', format: 'NDJSON', rowsImported: 2, rowsFailed: 0 });
    const stored = await rowsOf(job.id);
    expect(stored.map((r) => [r.line, r.event_type, r.user_id])).toEqual([[1, 'identify_user', 'user_123'], [2, 'identify_company', null]]);
  });

  it('imports valid lines and reports bad ones by line, detecting the format from the content', async () => {
    const rows = manyEvents(120);
    const lines = eventsNdjson(rows).trimEnd().split('\n');
    lines[4] = '{"event_type": "track", "user_id": "u", "inserted_at": "2024-01-01T00:00:00Z"}'; // line 5: no event_name
    lines[49] = '{"event_type": "page_view", "user_id": "u", '; // line 50: broken JSON
    lines[79] = '{"event_type": "identify_company", "inserted_at": "2024-01-01 00:00:00"}'; // line 80: no company_id
    const job = await importFile('upload.bin', lines.join('\n') + '\n\n');
    expect(job).toMatchObject({ status: 'COMPLETED', format: 'NDJSON', rowsProcessed: 120, rowsImported: 117, rowsFailed: 3 });
    expect(await rowsOf(job.id)).toHaveLength(117);
    const errors = await errorsOf(job.id);
    expect(errors.map((e) => [e.line, e.column])).toEqual([[5, 'event_name'], [50, null], [80, 'company_id']]);
    expect(errors[0].message).toBe('event_name is required for event_type track');
    expect(errors[1].message).toMatch(/^invalid JSON: /);
    expect(errors[2].message).toBe('company_id is required for event_type identify_company');
  });
});

describe('numbers in metadata', () => {
  // Postgres' numeric holds up to 131072 digits before the decimal point and 16383 after; one
  // value beyond that used to fail the whole batch's COPY, and with it the job.
  const BIG = '123456789012345678901234567890.000000000000000000001';
  const metadataLines = (metadata: string[]) => metadata.map((m, i) =>
    `{"event_type":"page_view","user_id":"u${i}","inserted_at":"2024-07-28T08:55:35Z","metadata":${m}}`).join('\n') + '\n';

  it('keeps NDJSON numbers exactly as written, and refuses only the rows Postgres could not store', async () => {
    const job = await importFile('numbers.ndjson', metadataLines([`{"big": ${BIG}, "n": [1e400], "f": 1.0}`, '{"a": 1e131072}', '{"b": 0e-20000}', '{"c": 1e131071}']));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 2, rowsFailed: 2 });
    const stored = await t.app.db.query<{ line: number; metadata: string }>(
      'select line, metadata::text as metadata from events where job_id = $1 order by line', [jobUuid(job.id)]);
    expect(stored[0]).toEqual({ line: 1, metadata: `{"f": 1.0, "n": [${'1' + '0'.repeat(400)}], "big": ${BIG}}` });
    expect(stored[1].line).toBe(4);
    const message = 'metadata has a number Postgres cannot store (at most 131072 digits before the decimal point and 16383 after)';
    expect(await errorsOf(job.id)).toEqual([
      { line: 2, column: 'metadata', value: '{"a": 1e131072}', message },
      { line: 3, column: 'metadata', value: '{"b": 0e-20000}', message },
    ]);
  });

  it('keeps them exact when another key on the line is written with escapes; refuses a zero with an exponent Postgres refuses', async () => {
    const lines = [
      '{"event_type":"page_view","user\\u005fid":"u1","inserted_at":"2024-07-28T08:55:35Z","metadata":{"n":[1e400],"big":12345678901234567890}}',
      '{"event_type":"page_view","user_id":"u2","inserted_at":"2024-07-28T08:55:35Z","metadata":{"z":0e1073741823}}',
    ];
    const job = await importFile('escaped.ndjson', lines.join('\n') + '\n');
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 1, rowsFailed: 1 });
    const [row] = await t.app.db.query<{ metadata: string }>('select metadata::text as metadata from events where job_id = $1', [jobUuid(job.id)]);
    expect(row.metadata).toBe(`{"n": [${'1' + '0'.repeat(400)}], "big": 12345678901234567890}`);
    expect((await errorsOf(job.id)).map((e) => [e.line, e.column])).toEqual([[2, 'metadata']]);
  });

  it('does the same for CSV', async () => {
    const rows = [eventRow(0, { metadata: `{"big": ${BIG}}` }), eventRow(1, { metadata: '{"a": -5e131072}' }), eventRow(2)];
    const job = await importFile('numbers.csv', eventsCsv(rows));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 2, rowsFailed: 1 });
    expect((await errorsOf(job.id)).map((e) => [e.line, e.column])).toEqual([[3, 'metadata']]);
    const [first] = await t.app.db.query<{ metadata: string }>('select metadata::text as metadata from events where job_id = $1 and line = 2', [jobUuid(job.id)]);
    expect(first.metadata).toBe(`{"big": ${BIG}}`);
  });
});

describe('large rows', () => {
  it('refuses an event_id too long for its unique index as a row error, and imports the rest', async () => {
    const rows = [eventRow(0, { event_id: 'é'.repeat(1500) }), eventRow(1, { event_id: 'fine' }), eventRow(2)];
    const job = await importFile('long-key.csv', eventsCsv(rows, [...EVENT_COLUMNS, 'event_id']));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 2, rowsFailed: 1 });
    expect(await errorsOf(job.id)).toEqual([{ line: 2, column: 'event_id', value: 'é'.repeat(100), message: 'event_id is longer than 2000 bytes' }]);
  });

  it('shows a long rejected value cut to 1,000 characters, whole in the report\'s raw row', async () => {
    const job = await importFile('long-value.csv', eventsCsv([eventRow(0, { inserted_at: 'x'.repeat(100_000) }), eventRow(1)]));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 1, rowsFailed: 1 });
    const [error] = await errorsOf(job.id);
    expect(error).toMatchObject({ line: 2, column: 'inserted_at', value: `${'x'.repeat(1000)}… (99000 more characters)` });
    const report = await fetch(`${t.url.replace(/\/graphql$/, '')}/jobs/${encodeURIComponent(job.id)}/errors.csv`, { headers: { authorization: `Bearer ${client.key}` } });
    expect(report.status).toBe(200);
    expect(await report.text()).toContain('x'.repeat(100_000));
  });

  // A batch's COPY data normally travels in a 4 MiB slot of shared memory (parse/parsedBatches.ts);
  // one larger than that travels in buffers of its own.
  it('imports a batch of megabyte rows, larger than the parse thread hands over in shared memory', async () => {
    const rows = [0, 1, 2, 3, 4, 5].map((i) => eventRow(i, { user_agent: `${i}`.repeat(1_000_000) }));
    const job = await importFile('large.csv', eventsCsv(rows));
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 6, rowsFailed: 0 });
    const stored = await t.app.db.query<{ line: number; n: number; first: string }>(
      'select line, length(user_agent) as n, left(user_agent, 1) as first from events where job_id = $1 order by line', [jobUuid(job.id)]);
    expect(stored).toEqual([0, 1, 2, 3, 4, 5].map((i) => ({ line: i + 2, n: 1_000_000, first: `${i}` })));
  });
});
