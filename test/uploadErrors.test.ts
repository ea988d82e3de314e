/**
 * uploadImport's user errors: each refusal names what is wrong, creates no job and leaves nothing
 * in the spool folder. Also the size limit's boundary, the per-tenant active-job limit, and the
 * `format` input overriding detection.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelJobDocument, UploadImportDocument, type UploadImportMutation } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient, UploadFile } from './support/client.js';
import { EVENT_COLUMNS, eventRow, eventsCsv, eventsNdjson, manyEvents } from './support/events.js';
import { jobCount, spoolFiles, waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

type Payload = UploadImportMutation['uploadImport'];

async function upload(client: GraphQLTestClient, file: UploadFile, input: { format?: 'CSV' | 'NDJSON'; allowDuplicateFile?: boolean; dryRun?: boolean } = {}): Promise<Payload> {
  const { status, body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS', ...input } }, file);
  expect(status, JSON.stringify(body)).toBe(200);
  expect(body.errors).toBeUndefined();
  return body.data!.uploadImport;
}

/**
 * Uploads a file that must be refused with `code`: checks the payload has no job, the tenant's job
 * count did not move and no new file is left in the spool folder. Returns the one user error.
 */
async function expectRefused(t: TestApp, client: GraphQLTestClient, file: UploadFile, code: string | string[], input: { format?: 'CSV' | 'NDJSON' } = {}) {
  const jobsBefore = await jobCount(client);
  const spoolBefore = await spoolFiles(t.dataDir);
  const payload = await upload(client, file, input);
  expect(payload.job).toBeNull();
  expect(payload.userErrors).toHaveLength(1);
  const [error] = payload.userErrors;
  if (Array.isArray(code)) expect(code).toContain(error.code);
  else expect(error.code).toBe(code);
  expect(await jobCount(client)).toBe(jobsBefore);
  const leftOver = (await spoolFiles(t.dataDir)).filter((f) => !spoolBefore.includes(f));
  expect(leftOver).toEqual([]);
  return error;
}

describe('refused files (workers running)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp();
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  it('refuses a CSV without a required column with SCHEMA_MISMATCH naming the column', async () => {
    const columns = EVENT_COLUMNS.filter((c) => c !== 'inserted_at');
    const error = await expectRefused(t, client, { name: 'events.csv', content: eventsCsv(manyEvents(5), columns) }, 'SCHEMA_MISMATCH');
    expect(error.message).toContain('inserted_at');
    expect(error.message).toMatch(/missing/i);
  });

  it('refuses a CSV with an unknown column with SCHEMA_MISMATCH naming the column', async () => {
    const columns = [...EVENT_COLUMNS, 'favourite_colour'];
    const error = await expectRefused(t, client, { name: 'events.csv', content: eventsCsv(manyEvents(5), columns) }, 'SCHEMA_MISMATCH');
    expect(error.message).toContain('favourite_colour');
    expect(error.message).toMatch(/unknown/i);
    // Every known column is present: the message must not blame one of them (it lists them all after what is wrong).
    const [blame, expected] = error.message.split(' EVENTS expects: ');
    expect(blame).not.toContain('inserted_at');
    expect(expected).toContain('inserted_at (required)');
  });

  it('refuses NDJSON whose first record has an unknown key with SCHEMA_MISMATCH naming the key', async () => {
    const lines = eventsNdjson(manyEvents(3)).trimEnd().split('\n');
    lines[0] = JSON.stringify({ ...JSON.parse(lines[0]), shoe_size: 44 });
    const error = await expectRefused(t, client, { name: 'events.ndjson', content: `${lines.join('\n')}\n` }, 'SCHEMA_MISMATCH');
    expect(error.message).toContain('shoe_size');
  });

  it('refuses an empty file with INVALID_FILE', async () => {
    const error = await expectRefused(t, client, { name: 'events.csv', content: '' }, 'INVALID_FILE');
    expect(error.message).toMatch(/empty/i);
    // Whitespace only is just as empty.
    const again = await expectRefused(t, client, { name: 'events.ndjson', content: '\n  \n\n' }, 'INVALID_FILE');
    expect(again.message).toMatch(/empty/i);
  });

  it('refuses a JSON array file with INVALID_FILE telling to send NDJSON', async () => {
    const records = eventsNdjson(manyEvents(3)).trimEnd().split('\n').map((l) => JSON.parse(l));
    const error = await expectRefused(t, client, { name: 'events.json', content: JSON.stringify(records, null, 2) }, 'INVALID_FILE');
    expect(error.message).toMatch(/array/i);
    expect(error.message).toMatch(/NDJSON/);
  });

  it('takes the format input over the file name and the content', async () => {
    const ndjson = eventsNdjson(manyEvents(4));

    // A .txt file of NDJSON, said to be NDJSON.
    const txt = await upload(client, { name: 'export.txt', content: ndjson }, { format: 'NDJSON' });
    expect(txt.userErrors).toEqual([]);
    expect(txt.job).toMatchObject({ format: 'NDJSON', filename: 'export.txt' });
    expect(await waitForJob(client, txt.job!.id)).toMatchObject({ status: 'COMPLETED', format: 'NDJSON', rowsImported: 4, rowsFailed: 0 });

    // A file named .csv that holds NDJSON: by its name it would be read as CSV (and its first
    // line refused as a header); the format input says NDJSON and wins.
    // The same bytes again: allowDuplicateFile, or DUPLICATE_FILE would answer first.
    const misnamed = await upload(client, { name: 'export.csv', content: ndjson }, { format: 'NDJSON', allowDuplicateFile: true });
    expect(misnamed.userErrors).toEqual([]);
    expect(misnamed.job?.format).toBe('NDJSON');
    expect(await waitForJob(client, misnamed.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 4, rowsFailed: 0 });

    // And the other way: CSV in a file named .ndjson, said to be CSV.
    const csv = await upload(client, { name: 'export.ndjson', content: eventsCsv(manyEvents(3)) }, { format: 'CSV' });
    expect(csv.userErrors).toEqual([]);
    expect(csv.job?.format).toBe('CSV');
    expect(await waitForJob(client, csv.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 3, rowsFailed: 0 });
  });

  it('without the format input, a file named .csv holding NDJSON is read as CSV and refused', async () => {
    // The counterpart of the test above: shows that the override is what made it pass. (Its
    // first line, read as a CSV header, is unreadable or names unknown columns.)
    await expectRefused(t, client, { name: 'export.csv', content: eventsNdjson(manyEvents(2)) }, ['SCHEMA_MISMATCH', 'INVALID_FILE']);
  });
});

describe('file size limit (maxFileSize: 10,000 bytes)', () => {
  const LIMIT = 10_000;
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ maxFileSize: LIMIT });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  /** A valid EVENTS CSV of exactly `bytes` bytes: a few rows, the last one's pathname padded. */
  function csvOfSize(bytes: number): string {
    const rows = manyEvents(10);
    const base = eventsCsv([...rows, eventRow(10, { pathname: '/' })]);
    const pad = bytes - Buffer.byteLength(base);
    if (pad < 0) throw new Error(`base CSV is already ${Buffer.byteLength(base)} bytes`);
    const csv = eventsCsv([...rows, eventRow(10, { pathname: `/${'p'.repeat(pad)}` })]);
    expect(Buffer.byteLength(csv)).toBe(bytes);
    return csv;
  }

  it('refuses a ~50 KB file with FILE_TOO_LARGE naming the limit, and keeps nothing of it', async () => {
    const content = eventsCsv(manyEvents(220));
    expect(Buffer.byteLength(content)).toBeGreaterThan(45_000);
    const error = await expectRefused(t, client, { name: 'big.csv', content }, 'FILE_TOO_LARGE');
    expect(error.message).toContain(String(LIMIT));
    expect(await spoolFiles(t.dataDir)).toEqual([]);
  });

  it('refuses a file one byte over the limit with FILE_TOO_LARGE', async () => {
    const error = await expectRefused(t, client, { name: 'over.csv', content: csvOfSize(LIMIT + 1) }, 'FILE_TOO_LARGE');
    expect(error.message).toContain(String(LIMIT));
  });

  it('accepts a file of exactly the limit and imports all of it', async () => {
    const payload = await upload(client, { name: 'exact.csv', content: csvOfSize(LIMIT) });
    expect(payload.userErrors).toEqual([]);
    expect(payload.job).toMatchObject({ status: 'QUEUED', fileSize: LIMIT });
    const job = await waitForJob(client, payload.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 11, rowsFailed: 0, bytesProcessed: LIMIT });
  });
});

describe('file size limit reached while the file streams (maxFileSize: 1 MB)', () => {
  const LIMIT = 1_000_000;
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ maxFileSize: LIMIT });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  it('answers a ~3 MB upload with FILE_TOO_LARGE and keeps nothing of it', async () => {
    const content = eventsCsv(manyEvents(11_000));
    expect(Buffer.byteLength(content)).toBeGreaterThan(2.5 * LIMIT);
    let timer: NodeJS.Timeout | undefined;
    // A hang detector, not a speed check: a local 3 MB upload is answered in well under a second.
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the upload got no answer within 10 s')), 10_000);
    });
    try {
      const error = await Promise.race([expectRefused(t, client, { name: 'big.csv', content }, 'FILE_TOO_LARGE'), hung]);
      expect(error.message).toContain(String(LIMIT));
    } finally {
      clearTimeout(timer);
    }
    expect(await spoolFiles(t.dataDir)).toEqual([]);
  });
});

describe('one active import per tenant (no workers: jobs stay QUEUED)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ workerConcurrency: 0 });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  it('refuses a second upload with IMPORT_IN_PROGRESS until the first is cancelled', async () => {
    const file = { name: 'events.csv', content: eventsCsv(manyEvents(3)) };
    const first = await upload(client, file);
    expect(first.userErrors).toEqual([]);
    expect(first.job?.status).toBe('QUEUED');

    const refused = await expectRefused(t, client, { name: 'more.csv', content: eventsCsv(manyEvents(3, 100)) }, 'IMPORT_IN_PROGRESS');
    expect(refused.message).toMatch(/queued or running/i);
    expect(await jobCount(client)).toBe(1);

    // Another tenant is not held up by acme's job.
    const other = await t.clientFor('globex');
    const theirs = await upload(other, file);
    expect(theirs.userErrors).toEqual([]);
    expect(theirs.job?.status).toBe('QUEUED');

    const { cancelJob } = await client.data(CancelJobDocument, { id: first.job!.id });
    expect(cancelJob.userErrors).toEqual([]);
    expect(cancelJob.job).toMatchObject({ id: first.job!.id, status: 'CANCELLED' });
    expect(cancelJob.job?.finishedAt).not.toBeNull();

    const next = await upload(client, { name: 'more.csv', content: eventsCsv(manyEvents(3, 100)) });
    expect(next.userErrors).toEqual([]);
    expect(next.job?.status).toBe('QUEUED');
    expect(await jobCount(client)).toBe(2);
    expect(await jobCount(client, { status: ['CANCELLED'] })).toBe(1);
    expect(await jobCount(client, { status: ['QUEUED'] })).toBe(1);
  });
});

describe('the same file twice', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp();
    client = await t.clientFor('twice');
  });
  afterAll(() => t?.close());

  it('refuses a byte-identical file of the same kind with DUPLICATE_FILE, unless allowDuplicateFile; a dry run does not count', async () => {
    const file = { name: 'once.csv', content: eventsCsv(manyEvents(5)) };
    const dry = await upload(client, file, { dryRun: true });
    await waitForJob(client, dry.job!.id);
    const first = await upload(client, file);
    expect(first.userErrors).toEqual([]);
    await waitForJob(client, first.job!.id);

    const error = await expectRefused(t, client, file, 'DUPLICATE_FILE');
    expect(error.message).toContain(first.job!.id);
    expect(error.message).toContain('allowDuplicateFile');

    const again = await upload(client, file, { allowDuplicateFile: true });
    expect(again.userErrors).toEqual([]);
    expect(await waitForJob(client, again.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 5 });
  });

  it('tells files of several MB apart by their last row, and keeps the SHA-256 of all of their bytes', async () => {
    // Uploads are hashed on a thread of its own, which reads back what the spool has written: in
    // steps while the file grows, then the rest. A file of several steps checks all of it counts.
    const rows = manyEvents(40_000);
    const content = eventsCsv(rows);
    expect(Buffer.byteLength(content)).toBeGreaterThan(8 << 20);
    const lastRowOther = eventsCsv([...rows.slice(0, -1), eventRow(rows.length - 1, { user_id: 'Someone-else' })]);

    const first = await upload(client, { name: 'large.csv', content });
    expect(first.userErrors).toEqual([]);
    expect(await waitForJob(client, first.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 40_000 });
    const [stored] = await t.app.db.query<{ file_sha256: string }>(
      "select file_sha256 from import_jobs where filename = 'large.csv'",
    );
    expect(stored.file_sha256).toBe(createHash('sha256').update(content).digest('hex'));

    const other = await upload(client, { name: 'large-too.csv', content: lastRowOther });
    expect(other.userErrors).toEqual([]);
    await waitForJob(client, other.job!.id);
    await expectRefused(t, client, { name: 'large-again.csv', content }, 'DUPLICATE_FILE');
  });
});
