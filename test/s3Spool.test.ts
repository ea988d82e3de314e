/**
 * SPOOL_URL=s3://bucket/prefix against the run's real radosgw (test/support/radosgwSetup.ts): a
 * store that refuses our credentials, or has no such bucket, stops the server at start with a
 * message saying which.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { s3Store } from './support/s3Store.js';
import { startServerChild, stopAllServerChildren } from './support/serverProcess.js';

describe('an S3 spool checked at start', () => {
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
      readyTimeoutMs: 30_000,
      env: {
        DATABASE_URL: db.url, DATA_DIR: path.join(tmp, label),
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
