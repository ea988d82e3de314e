/**
 * SPOOL_URL=s3://bucket/prefix against the run's real radosgw (test/support/radosgwSetup.ts): a
 * store that refuses our credentials, or has no such bucket, stops the server at start with a
 * message saying which; an upload streams into a multipart upload, leaves nothing behind when it
 * fails, and a job reads the object from any offset.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openChunks } from '../src/parse/fileChunks.js';
import { openS3Spool, sweepS3Spool } from '../src/spool/s3Spool.js';
import { startTestApp } from './support/testApp.js';
import { UploadImportDocument } from '../src/generated/gql/graphql.js';
import { EVENT_COLUMNS, eventRow } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { excelOrderWorkbook } from './support/zipArchive.js';
import { spoolToS3 } from '../src/spool/s3Upload.js';
import { createTestDatabase, databaseEnv, type TestDatabase } from './support/database.js';
import { requireS3, s3Store } from './support/s3Store.js';
import { startServerChild, stopAllServerChildren } from './support/serverProcess.js';

describe.runIf(requireS3('the S3 spool tests'))('an S3 spool checked at start', () => {
  let db: TestDatabase;
  let tmp: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 's3spool-'));
  });
  afterAll(async () => {
    await stopAllServerChildren();
    await db?.drop();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  const start = (label: string, env: Record<string, string>) => {
    const store = s3Store();
    return startServerChild({
      label,
      readyTimeoutMs: 90_000,
      env: {
        ...databaseEnv(db), DATA_DIR: path.join(tmp, label),
        SPOOL_URL: `s3://${store.bucket}/jobs`, S3_ENDPOINT: store.endpoint,
        AWS_ACCESS_KEY_ID: store.accessKeyId, AWS_SECRET_ACCESS_KEY: store.secretAccessKey, AWS_REGION: store.region,
        ...env,
      },
    });
  };

  it('a wrong secret stops the server, saying the store refuses its credentials (and not the secret)', async () => {
    const failed = await start('wrong-secret', { AWS_SECRET_ACCESS_KEY: 'not-the-secret-at-all' }).then(() => null, (err: Error) => err.message);
    expect(failed).toContain(`SPOOL_URL=s3://${s3Store().bucket}/jobs/: the store refuses our credentials`);
    expect(failed).not.toContain('not-the-secret-at-all');
  });

  it('a missing bucket stops the server, naming the bucket', async () => {
    const failed = await start('no-bucket', { SPOOL_URL: 's3://no-such-bucket/jobs' }).then(() => null, (err: Error) => err.message);
    expect(failed).toContain('SPOOL_URL=s3://no-such-bucket/jobs/: the bucket "no-such-bucket" does not exist');
  });
});

describe('SPOOL_URL', () => {
  it('is a folder, an s3:// URL, or refused with a message naming what is wrong', async () => {
    const { loadConfig } = await import('../src/config.js');
    expect(loadConfig({ SPOOL_URL: '/srv/spool' })).toMatchObject({ spoolDir: '/srv/spool', spoolS3: null });
    expect(loadConfig({ SPOOL_DIR: '/srv/spool' })).toMatchObject({ spoolDir: '/srv/spool', spoolS3: null });
    expect(loadConfig({ SPOOL_URL: 's3://imports/a/b', S3_ENDPOINT: 'http://127.0.0.1:9000/' })).toMatchObject({
      spoolS3: { bucket: 'imports', prefix: 'a/b/' }, s3Endpoint: 'http://127.0.0.1:9000',
    });
    expect(() => loadConfig({ SPOOL_URL: '/a', SPOOL_DIR: '/b' })).toThrow('SPOOL_URL ("/a") and SPOOL_DIR ("/b") name different spools');
    expect(() => loadConfig({ SPOOL_URL: 's3:///jobs' })).toThrow('SPOOL_URL must name a bucket');
    expect(() => loadConfig({ SPOOL_URL: 'gs://imports' })).toThrow('SPOOL_URL must be a folder path or s3://bucket/prefix');
  });
});

describe.runIf(requireS3('the S3 spool tests'))('spooling into the S3 store', () => {
  const prefix = `uploads-${Date.now()}/`;
  const spool = () => {
    const store = s3Store();
    return openS3Spool({ bucket: store.bucket, prefix }, store.endpoint);
  };
  /** The bytes in pieces of 1 MiB, with an error instead of the rest past `failAfter`. */
  const source = (bytes: Buffer, failAfter?: number) => Readable.from((function* () {
    for (let at = 0; at < bytes.length; at += 1 << 20) {
      if (failAfter !== undefined && at >= failAfter) throw new Error('the client went away');
      yield bytes.subarray(at, at + (1 << 20));
    }
  })(), { objectMode: false });
  const leftovers = async () => {
    const s = await spool();
    const objects = await s.client.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: prefix }));
    const uploads = await s.client.send(new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: prefix }));
    return { objects: (objects.Contents ?? []).map((o) => o.Key), uploads: (uploads.Uploads ?? []).map((u) => u.Key) };
  };

  it('streams a file of several parts, hashed as it goes, and a reader gets its bytes from any offset', async () => {
    const s = await spool();
    const bytes = randomBytes(20 * (1 << 20) + 12345);
    const done = await spoolToS3(source(bytes), s, `${prefix}a.upload`, { maxBytes: 1 << 30, roomStep: 1 << 20, headBytes: 1000 });
    expect(done).toMatchObject({ ok: true, location: `s3://${s.bucket}/${prefix}a.upload`, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    if (!done.ok) return;
    expect(done.head.equals(bytes.subarray(0, 1000))).toBe(true);
    const head = await s.client.send(new HeadObjectCommand({ Bucket: s.bucket, Key: `${prefix}a.upload` }));
    expect(head.ContentLength).toBe(bytes.length);
    for (const offset of [0, 9_000_001, bytes.length - 5, bytes.length]) {
      const chunks = await openChunks({ path: done.location, offset, chunkBytes: 1 << 20 });
      const read: Buffer[] = [];
      for (let c = await chunks.next(); c; c = await chunks.next()) read.push(Buffer.from(c));
      await chunks.close();
      expect(Buffer.concat(read).equals(bytes.subarray(offset)), `from offset ${offset}`).toBe(true);
    }
    expect((await leftovers()).uploads).toEqual([]);
  });

  it('files at the edges of the 8 MiB parts (empty, one byte, one part, exactly two parts, a byte more) are stored byte for byte', async () => {
    const s = await spool();
    const part = 8 << 20;
    for (const size of [0, 1, part, 2 * part, 2 * part + 1]) {
      const bytes = randomBytes(size);
      const key = `${prefix}edge-${size}.upload`;
      const done = await spoolToS3(source(bytes), s, key, { maxBytes: 1 << 30, roomStep: 1 << 20, headBytes: 1000 });
      expect(done, `${size} bytes`).toMatchObject({ ok: true, size, sha256: createHash('sha256').update(bytes).digest('hex') });
      const chunks = await openChunks({ path: `s3://${s.bucket}/${key}`, offset: 0, chunkBytes: 1 << 20 });
      const read: Buffer[] = [];
      for (let c = await chunks.next(); c; c = await chunks.next()) read.push(Buffer.from(c));
      await chunks.close();
      expect(Buffer.concat(read).equals(bytes), `${size} bytes read back`).toBe(true);
    }
    expect((await leftovers()).uploads).toEqual([]);
  });

  it('an upload that breaks off half-way, or passes the size limit, leaves no object and no multipart upload', async () => {
    const s = await spool();
    const bytes = randomBytes(30 * (1 << 20));
    await expect(spoolToS3(source(bytes, 20 * (1 << 20)), s, `${prefix}broken.upload`, { maxBytes: 1 << 30, roomStep: 1 << 20, headBytes: 1000 })).rejects.toThrow('the client went away');
    const tooLarge = await spoolToS3(source(bytes), s, `${prefix}large.upload`, { maxBytes: 25 * (1 << 20), roomStep: 1 << 20, headBytes: 1000 });
    expect(tooLarge).toEqual({ ok: false, code: 'FILE_TOO_LARGE' });
    const left = await leftovers();
    expect(left.uploads).toEqual([]);
    expect(left.objects.filter((key) => key !== `${prefix}a.upload` && !key?.includes('edge-'))).toEqual([]);
  });
});

describe.runIf(requireS3('the S3 spool tests'))('an S3 spool in a running server', () => {
  it('is ready while the store answers, and its sweep removes unreferenced objects and aborts abandoned multipart uploads', async () => {
    const store = s3Store();
    const prefix = `sweep-${Date.now()}/`;
    const t = await startTestApp({ spoolS3: { bucket: store.bucket, prefix }, s3Endpoint: store.endpoint });
    try {
      const ready = await fetch(t.url.replace('/graphql', '/readyz'));
      expect(ready.status).toBe(200);
      const spool = await openS3Spool({ bucket: store.bucket, prefix }, store.endpoint);
      await spool.client.send(new PutObjectCommand({ Bucket: store.bucket, Key: `${prefix}left.upload`, Body: 'a,b\n' }));
      await spool.client.send(new CreateMultipartUploadCommand({ Bucket: store.bucket, Key: `${prefix}half.upload` }));
      // Young ones stay: another instance may be writing them right now.
      expect(await sweepS3Spool(t.app.db, spool, 0, t.app.log)).toBe(0);
      // Past the age given (the store's timestamps may be rounded to the second).
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const removed = await sweepS3Spool(t.app.db, spool, 0, t.app.log, 1000);
      const objects = await spool.client.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix }));
      const uploads = await spool.client.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: prefix }));
      expect({ removed, objects: objects.KeyCount ?? 0, uploads: (uploads.Uploads ?? []).length }).toEqual({ removed: 2, objects: 0, uploads: 0 });
      spool.client.destroy();
    } finally {
      await t.close();
    }
  });

  it('holds a workbook\'s waiting sheet in local scratch within SPOOL_MAX_BYTES: one that does not fit is SPOOL_FULL, leaving nothing', async () => {
    const store = s3Store();
    const prefix = `xlsx-${Date.now()}/`;
    const t = await startTestApp({ spoolS3: { bucket: store.bucket, prefix }, s3Endpoint: store.endpoint, maxFileSize: 16_000_000, spoolMaxBytes: 20_000_000 });
    try {
      const client = await t.clientFor('s3-xlsx');
      const rows = [[...EVENT_COLUMNS], ...[1, 2].map((i) => EVENT_COLUMNS.map((c) => eventRow(i)[c] ?? ''))];
      const upload = async (sheetMiB: number) => client.upload(UploadImportDocument, { input: { kind: 'EVENTS', allowDuplicateFile: true } }, {
        name: 'events.xlsx', content: await excelOrderWorkbook(rows, { chunk: '<x/>'.repeat(16384), times: sheetMiB * 16 }),
      });
      const scratch = async () => (await fs.readdir(path.join(t.dataDir, 'spool')).catch(() => [])).filter((name) => name.endsWith('.scratch'));

      const tooLarge = await upload(30);
      expect(tooLarge.status, JSON.stringify(tooLarge.body)).toBe(503);
      expect(tooLarge.body.errors?.[0]).toMatchObject({ extensions: { code: 'SPOOL_FULL' } });
      expect(await scratch()).toEqual([]);
      const fits = await upload(6);
      expect(fits.body.data?.uploadImport.userErrors, JSON.stringify(fits.body)).toEqual([]);
      expect(await waitForJob(client, fits.body.data!.uploadImport.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 2 });
      expect(await scratch()).toEqual([]);
    } finally {
      await t.close();
    }
  }, 60_000);
});
