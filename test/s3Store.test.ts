// The run's radosgw is a real S3 store: it checks signatures and serves multipart and ranged GETs.
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { s3Client, requireS3, s3Store } from './support/s3Store.js';

describe.runIf(requireS3('the S3 spool tests'))('the test run\'s radosgw', () => {
  it('stores an object and serves a byte range of it', async () => {
    const store = s3Store();
    const s3 = s3Client(store);
    const Key = `probe/${Date.now()}.txt`;
    await s3.send(new PutObjectCommand({ Bucket: store.bucket, Key, Body: 'line one\nline two\n' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: store.bucket, Key, Range: 'bytes=9-' }));
    expect(await got.Body!.transformToString()).toBe('line two\n');
    await s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key }));
    const left = await s3.send(new ListObjectsV2Command({ Bucket: store.bucket, Prefix: 'probe/' }));
    expect(left.KeyCount ?? 0).toBe(0);
  });

  it('lists and aborts a multipart upload', async () => {
    const store = s3Store();
    const s3 = s3Client(store);
    const Key = `probe/multi-${Date.now()}`;
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: store.bucket, Key }));
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: 'probe/' }));
    expect(listed.Uploads?.map((u) => u.UploadId)).toContain(UploadId);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: store.bucket, Key, UploadId }));
    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: 'probe/' }));
    expect(after.Uploads ?? []).toHaveLength(0);
  });

  it('refuses a wrong secret', async () => {
    const store = s3Store();
    const s3 = s3Client(store, 'not-the-secret');
    await expect(s3.send(new ListObjectsV2Command({ Bucket: store.bucket }))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
  });
});
