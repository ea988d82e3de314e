/**
 * Imports through SPOOL_URL=s3://bucket/prefix on the run's real radosgw
 * (test/support/radosgwSetup.ts), with no shared disk between the instances: the upload lands in
 * the store, the job imports every line exactly once, a job whose instance is killed resumes on
 * another from its checkpoint (a ranged GET), and the store keeps nothing of ended jobs.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobUuid, uploadFile } from '../bench/client.js';
import { generateEvents } from '../bench/generate.js';
import { createTestDatabase, databaseEnv, requirePostgres, sessionUrl, type TestDatabase } from './support/database.js';
import { contentChecksum, createKeyIn, exactLines, fileChecksum, installPace, jobState, lineCheck, openSql, setPace, waitFor, type Sql } from './support/importIntegrity.js';
import { requireS3, s3Client, s3Store } from './support/s3Store.js';
import { startServerChild, stopAllServerChildren, type ServerChild } from './support/serverProcess.js';

const enabled = requirePostgres('S3 spool imports (server processes on one database)') && requireS3('S3 spool imports');
const ROWS = 30_000;

describe.runIf(enabled)('imports spooled in an S3 store', () => {
  let db: TestDatabase;
  let sql: Sql;
  let tmp: string;
  let file: string;
  let checksum: string;
  const prefix = `imports-${Date.now()}`;

  const start = (label: string) => {
    const store = s3Store();
    return startServerChild({
      label,
      env: {
        ...databaseEnv(db), DATA_DIR: path.join(tmp, label), SPOOL_URL: `s3://${store.bucket}/${prefix}`, S3_ENDPOINT: store.endpoint,
        AWS_ACCESS_KEY_ID: store.accessKeyId, AWS_SECRET_ACCESS_KEY: store.secretAccessKey, AWS_REGION: store.region,
        BATCH_SIZE: '2000', LEASE_MS: '3000', POLL_INTERVAL_MS: '200', PROGRESS_INTERVAL_MS: '100',
      },
    });
  };
  const storeHolds = async () => {
    const store = s3Store();
    const s3 = s3Client(store);
    const objects = await s3.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: `${prefix}/` }));
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: `${prefix}/` }));
    s3.destroy();
    return { objects: (objects.Contents ?? []).length, uploads: (uploads.Uploads ?? []).length };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 's3spool-import-'));
    file = path.join(tmp, 'events.csv');
    await generateEvents({ rows: ROWS, seed: 2026, csvPath: file });
    checksum = (await fileChecksum(file)).checksum;
  }, 60_000);

  afterAll(async () => {
    await stopAllServerChildren();
    await sql?.end({ timeout: 5 });
    await db?.drop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('imports an upload with every line exactly once; killed half-way, the job resumes on another instance from its checkpoint; the store then holds nothing', async () => {
    const a = await start('A');
    sql = openSql(sessionUrl(db));
    await installPace(sql, 150);
    const key = await createKeyIn(sql, 'tenant-s3');
    const jobId = jobUuid((await uploadFile({ url: a.url, key, file, kind: 'EVENTS' })).jobId);
    expect(await storeHolds()).toEqual({ objects: 1, uploads: 0 });

    await waitFor('a checkpoint past the start', async () => (await jobState(sql, jobId)).checkpoint_offset > 0, { timeoutMs: 30_000 });
    await a.kill();
    const b = await start('B');
    await setPace(sql, 0);
    const done = await waitFor('the job to end on B', async () => {
      const job = await jobState(sql, jobId);
      return job.finished_at ? job : undefined;
    }, { timeoutMs: 45_000, onTimeout: () => b.output().slice(-4000) });

    expect(done.status).toBe('COMPLETED');
    expect(await lineCheck(sql, jobId)).toEqual(exactLines(ROWS));
    expect(await contentChecksum(sql, jobId)).toBe(checksum);
    expect(b.logs().some((l) => l.msg === 'job resumed' && l.jobId === jobId && Number(l.from) > 0)).toBe(true);
    await waitFor('the ended job\'s object to go', async () => (await storeHolds()).objects === 0, { timeoutMs: 10_000 });
    expect(await storeHolds()).toEqual({ objects: 0, uploads: 0 });
  }, 120_000);
});
