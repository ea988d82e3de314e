/**
 * Staged uploads on an S3 spool (the run's real radosgw): the part URLs are the store's own
 * presigned UploadPart URLs, so the bytes never pass through the service; what arrived is what
 * the store lists; import completes the multipart upload into the object the job reads.
 */
import { createHash } from 'node:crypto';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateStagedUploadDocument, ImportStagedUploadDocument, StagedUploadDocument } from '../src/generated/gql/graphql.js';
import { sweepStagedUploads } from '../src/intake/stagedUploads/stagedSweep.js';
import { s3Staging } from '../src/intake/stagedUploads/s3Staging.js';
import { openS3Spool, sweepS3Spool } from '../src/spool/s3Spool.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobUuid, waitForJob } from './support/jobs.js';
import { requireS3, s3Store } from './support/s3Store.js';
import { partOf, putPart, putPartCut, shuffled } from './support/stagedParts.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const ROWS = 100_000;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** What the operator sees of how much of staged files importStagedUpload read back whole to check them. */
async function stagedBytesChecked(t: TestApp): Promise<number> {
  const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
  return Number(/bulk_import_staged_bytes_read_total\{purpose="check"\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe.runIf(requireS3('staged uploads on the S3 spool'))('staged uploads (S3 spool)', () => {
  const prefix = `staged-${Date.now()}/`;
  let t: TestApp;
  let client: GraphQLTestClient;
  let file: Buffer;
  const create = async (c: GraphQLTestClient, body: Buffer, extra: { sha256?: string } = {}) =>
    (await c.data(CreateStagedUploadDocument, { input: { filename: 'events.csv', fileSize: body.length, ...extra } })).createStagedUpload.stagedUpload!;
  const importIt = async (c: GraphQLTestClient, id: string) =>
    (await c.data(ImportStagedUploadDocument, { input: { stagedUploadId: id, kind: 'EVENTS' } })).importStagedUpload;

  beforeAll(async () => {
    const store = s3Store();
    t = await startTestApp({ spoolS3: { bucket: store.bucket, prefix }, s3Endpoint: store.endpoint, maxActiveJobsPerTenant: 4 });
    client = await t.clientFor('staged-s3');
    file = Buffer.from(eventsCsv(manyEvents(ROWS)));
  }, 60_000);
  afterAll(async () => { await t?.close(); });

  it('parts PUT straight to the store, shuffled, one twice, one cut mid-part, survive the sweep and import exact rows', async () => {
    const upload = await create(client, file, { sha256: sha256(file) });
    const store = s3Store();
    expect(upload.parts.length).toBeGreaterThanOrEqual(3);
    expect(new URL(upload.parts[0].url).origin).toBe(new URL(store.endpoint).origin);

    const [cut, ...rest] = shuffled(upload.parts);
    await putPartCut(cut.url, partOf(file, upload.partSize, cut.number), 1024 * 1024);
    for (const part of rest) expect(await putPart(part.url, partOf(file, upload.partSize, part.number))).toBe(200);
    expect(await putPart(rest[0].url, partOf(file, upload.partSize, rest[0].number))).toBe(200);
    const after = (await client.data(StagedUploadDocument, { id: upload.id })).stagedUpload!;
    expect(after.parts.filter((p) => !p.received).map((p) => p.number)).toEqual([cut.number]);

    // The sweep aborts abandoned multipart uploads past an age; a live staged upload's is not one.
    const spool = await openS3Spool({ bucket: store.bucket, prefix }, store.endpoint);
    const { keep } = await sweepStagedUploads(t.app.db, s3Staging(spool, t.app.log), t.app.log);
    await new Promise((r) => setTimeout(r, 1100));
    await sweepS3Spool(t.app.db, spool, 0, t.app.log, 1, keep);
    const uploads = await spool.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: prefix }));
    expect((uploads.Uploads ?? []).length).toBe(1);

    expect(await putPart(cut.url, partOf(file, upload.partSize, cut.number))).toBe(200);
    const { job, userErrors } = await importIt(client, upload.id);
    expect(userErrors).toEqual([]);
    expect(await waitForJob(client, job!.id, 90_000)).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS, rowsFailed: 0 });
    const [counted] = await t.app.db.query<{ n: number; lines: number }>(
      'select count(*)::int as n, count(distinct line)::int as lines from events where job_id = $1', [jobUuid(job!.id)]);
    expect(counted).toEqual({ n: ROWS, lines: ROWS });
    spool.client.destroy();
    spool.presignClient.destroy();
  }, 150_000);

  it('a resumed client sends only the parts the store does not list', async () => {
    const body = Buffer.from(eventsCsv(manyEvents(ROWS, ROWS)));
    const upload = await create(client, body);
    let puts = 0;
    for (const part of upload.parts.slice(0, 2)) { puts++; expect(await putPart(part.url, partOf(body, upload.partSize, part.number))).toBe(200); }
    const missing = (await client.data(StagedUploadDocument, { id: upload.id })).stagedUpload!.parts.filter((p) => !p.received);
    expect(missing.map((p) => p.number)).toEqual(upload.parts.slice(2).map((p) => p.number));
    for (const part of missing) { puts++; expect(await putPart(part.url, partOf(body, upload.partSize, part.number))).toBe(200); }
    expect(puts).toBe(upload.parts.length);
    const { job } = await importIt(client, upload.id);
    expect(await waitForJob(client, job!.id, 90_000)).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS });
  }, 150_000);

  it('refused imports read the object from the store once (then only its head); a valid one then imports every row', async () => {
    const c = await t.clientFor('retrying-s3');
    const body = Buffer.from(eventsCsv(manyEvents(ROWS, 2_000_000)));
    const upload = await create(c, body, { sha256: sha256(body) });
    for (const p of upload.parts) expect(await putPart(p.url, partOf(body, upload.partSize, p.number))).toBe(200);
    const before = await stagedBytesChecked(t);
    const wrongKind = (await c.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'USERS' } })).importStagedUpload;
    expect(wrongKind.userErrors[0]).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    const sheet = (await c.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS', sheet: 'Sheet1' } })).importStagedUpload;
    expect(sheet.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['input', 'sheet'] });
    expect(await stagedBytesChecked(t) - before).toBe(body.length);
    const { job, userErrors } = await importIt(c, upload.id);
    expect(userErrors).toEqual([]);
    expect(job).toMatchObject({ fileSize: body.length, format: 'CSV' });
    expect(await waitForJob(c, job!.id, 90_000)).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS, rowsFailed: 0 });
    expect(await stagedBytesChecked(t) - before).toBe(body.length);
  }, 150_000);

  it('the store refuses a tampered URL and a part of the wrong size; another tenant gets NOT_FOUND; a wrong sha256 is INVALID_FILE', async () => {
    const upload = await create(client, file, { sha256: sha256(Buffer.from('not this file')) });
    const [one] = upload.parts;
    const part = partOf(file, upload.partSize, 1);
    expect(await putPart(one.url.replace('partNumber=1', 'partNumber=2'), part)).toBe(403);
    expect(await putPart(one.url, part.subarray(0, part.length - 10))).toBe(403);
    const other = await t.clientFor('someone-else-s3');
    expect((await other.data(StagedUploadDocument, { id: upload.id })).stagedUpload).toBeNull();
    expect((await importIt(other, upload.id)).userErrors[0]).toMatchObject({ code: 'NOT_FOUND' });
    for (const p of upload.parts) expect(await putPart(p.url, partOf(file, upload.partSize, p.number))).toBe(200);
    const { job, userErrors } = await importIt(client, upload.id);
    expect(job).toBeNull();
    expect(userErrors[0]).toMatchObject({ code: 'INVALID_FILE' });
  }, 60_000);

  it('an expired part URL is refused by the store', async () => {
    const store = s3Store();
    const short = await startTestApp({ spoolS3: { bucket: store.bucket, prefix }, s3Endpoint: store.endpoint, stagedUploadTtlMs: 2000 });
    try {
      const c = await short.clientFor('expiring-s3');
      const body = Buffer.from(eventsCsv(manyEvents(100)));
      const upload = await create(c, body);
      await new Promise((r) => setTimeout(r, 3500));
      expect(await putPart(upload.parts[0].url, body)).toBe(403);
    } finally {
      await short.close();
    }
  }, 30_000);
});
