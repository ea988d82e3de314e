/**
 * An S3 spool under faults, in a running server on the run's real radosgw: the store going away
 * while an upload streams into it is that request's error (503, try again), with nothing left in
 * the store and no job; a store connection that hangs is given up and the part sent again; and SPOOL_MAX_BYTES counts the objects the store holds, as it counts a
 * folder's files.
 */
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobDocument, JobsDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { closing, sendMultipart, uploadHead } from './support/multipart.js';
import { waitFor } from './support/importIntegrity.js';
import { requireS3, s3Client, s3Store } from './support/s3Store.js';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const enabled = requireS3('the S3 upload fault tests');
const MB = 1 << 20;

describe.runIf(enabled)('an S3 spool under faults', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    const endpoint = new URL(s3Store().endpoint);
    proxy = await startTcpProxy(endpoint.hostname, Number(endpoint.port));
  });
  afterAll(async () => {
    await proxy?.close();
  });

  const storeHolds = async (prefix: string) => {
    const store = s3Store();
    const s3 = s3Client(store);
    try {
      const objects = await s3.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix }));
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: prefix }));
      return { objects: (objects.Contents ?? []).length, uploads: (uploads.Uploads ?? []).length };
    } finally {
      s3.destroy();
    }
  };

  it('the store going away under an upload: the request gets a 503 to try again, and the store keeps no object or multipart upload', async () => {
    const prefix = `faults-${Date.now()}/`;
    const t = await startTestApp({ spoolS3: { bucket: s3Store().bucket, prefix }, s3Endpoint: `http://127.0.0.1:${proxy.port}` });
    try {
      const client = await t.clientFor('store-away');
      // 40 MB in 1 MB pieces 50 ms apart: the multipart upload exists while most of the file is still to come.
      const content = eventsCsv(manyEvents(160_000));
      const pieces = [uploadHead('big.csv')];
      for (let at = 0; at < content.length; at += MB) pieces.push(content.slice(at, at + MB));
      pieces.push(`\r\n${closing()}`);
      const sent = sendMultipart(t.url, { key: client.key!, pieces, pauseMs: 50, stopWhenAnswered: true, timeoutMs: 50_000 });
      await waitFor('the multipart upload to begin', async () => (await storeHolds(prefix)).uploads > 0, { timeoutMs: 30_000, intervalMs: 20 });
      await proxy.down();
      setTimeout(() => void proxy.up(), 2000);
      const { status, json } = await sent;
      expect(status).toBe(503);
      expect(json?.errors?.[0]).toMatchObject({ message: 'The upload store is unavailable for a moment; try again shortly', extensions: { code: 'SERVICE_UNAVAILABLE' } });
      expect(await storeHolds(prefix)).toEqual({ objects: 0, uploads: 0 });
      const jobs = await client.request(JobsDocument, { first: 5 });
      expect(jobs.body.data?.jobs.totalCount).toBe(0);
    } finally {
      await proxy.up().catch(() => {}); // already up
      await t.close();
    }
  }, 60_000);

  it('a store connection that hangs under an upload (open, nothing moving) is given up after S3_TIMEOUT_MS and the part sent again: the upload completes, every row imported', async () => {
    const prefix = `hang-${Date.now()}/`;
    const before = process.env.S3_TIMEOUT_MS;
    // Read by every thread's store client as it is made (parse/storeClient.ts): this app's threads see 1.5 s.
    process.env.S3_TIMEOUT_MS = '1500';
    const t = await startTestApp({ spoolS3: { bucket: s3Store().bucket, prefix }, s3Endpoint: `http://127.0.0.1:${proxy.port}` });
    try {
      const client = await t.clientFor('store-hangs');
      const rows = 160_000;
      const content = eventsCsv(manyEvents(rows));
      const pieces = [uploadHead('big.csv')];
      for (let at = 0; at < content.length; at += MB) pieces.push(content.slice(at, at + MB));
      pieces.push(`\r\n${closing()}`);
      const sent = sendMultipart(t.url, { key: client.key!, pieces, pauseMs: 50, stopWhenAnswered: true, timeoutMs: 50_000 });
      await waitFor('the multipart upload to begin', async () => (await storeHolds(prefix)).uploads > 0, { timeoutMs: 30_000, intervalMs: 20 });
      proxy.silence();
      const { status, json } = await sent;
      expect(status).toBe(200);
      const jobId = json?.data?.uploadImport?.job?.id as string;
      expect(jobId).toBeTruthy();
      await waitFor('the job to complete', async () => (await client.request(JobDocument, { id: jobId })).body.data?.job?.status === 'COMPLETED', { timeoutMs: 60_000, intervalMs: 200 });
      expect((await client.request(JobDocument, { id: jobId })).body.data?.job).toMatchObject({ rowsImported: rows, rowsFailed: 0 });
    } finally {
      if (before === undefined) delete process.env.S3_TIMEOUT_MS; else process.env.S3_TIMEOUT_MS = before;
      await t.close();
    }
  }, 120_000);

  it('SPOOL_MAX_BYTES counts the objects in the store: a file that would pass it is refused with 503 SPOOL_FULL', async () => {
    const prefix = `full-${Date.now()}/`;
    const file = eventsCsv(manyEvents(4000)); // about 1 MB
    const t = await startTestApp({
      spoolS3: { bucket: s3Store().bucket, prefix }, s3Endpoint: s3Store().endpoint,
      spoolMaxBytes: Math.round(file.length * 1.5), spoolRetentionMs: 60 * 60_000, maxFileSize: file.length * 2,
    });
    try {
      const first = await (await t.clientFor('first')).upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'a.csv', content: file });
      expect(first.body.errors).toBeUndefined();
      expect(await storeHolds(prefix)).toEqual({ objects: 1, uploads: 0 });
      // The first job's object stays (SPOOL_RETENTION_MS): the store holds it, and no folder does.
      const second = await (await t.clientFor('second')).upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'b.csv', content: file });
      expect(second.status).toBe(503);
      expect(second.body.errors?.[0].extensions).toMatchObject({ code: 'SPOOL_FULL' });
      expect(await storeHolds(prefix)).toEqual({ objects: 1, uploads: 0 });
    } finally {
      await t.close();
    }
  }, 60_000);
});
