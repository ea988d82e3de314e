/**
 * The S3 spool's store (SPOOL_URL=s3://bucket/prefix): its client; the check made at start that
 * the store takes our credentials and has the bucket, so a wrong secret or a missing bucket stops
 * the service with a message saying which, not the first upload; removing and sweeping objects.
 */
import { randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { storeClientConfig, storeRegion } from '../parse/storeClient.js';
import type { S3SpoolLocation } from '../config.js';
import type { SqlExecutor } from '../db/database.js';
import { jobsUsingSpoolFiles } from '../jobs/jobStore.js';
import type { Logger } from '../logger.js';
import { splitObjectLocation } from '../parse/objectChunks.js';

export interface S3Spool {
  client: S3Client;
  bucket: string;
  /** Every key the spool writes starts with it ('' or ending in '/'). */
  prefix: string;
  /** s3://bucket/prefix, for messages. */
  url: string;
  /** S3_ENDPOINT (unset: AWS) and the region: the hash thread makes its own client from them (objectUpload.ts). */
  endpoint?: string;
  region: string;
  /**
   * A client for presigned URLs (staged uploads): without the SDK's default request checksum,
   * which would sign the checksum of an empty body into the URL, so the store refuses every real part.
   */
  presignClient: S3Client;
}

export async function openS3Spool(location: S3SpoolLocation, endpoint: string | undefined): Promise<S3Spool> {
  // Loaded only here: the SDK is large, and a folder spool never needs it.
  const { S3Client } = await import('@aws-sdk/client-s3');
  const region = storeRegion();
  const options = storeClientConfig(endpoint, region);
  const client = new S3Client(options);
  const presignClient = new S3Client({ ...options, requestChecksumCalculation: 'WHEN_REQUIRED' });
  return { client, presignClient, ...location, url: `s3://${location.bucket}/${location.prefix}`, endpoint, region };
}

/** Why the store cannot be used, in words fit for the log and /readyz (no secrets), or null. */
export async function s3SpoolProblem(spool: S3Spool): Promise<string | null> {
  const { HeadBucketCommand } = await import('@aws-sdk/client-s3');
  try {
    await spool.client.send(new HeadBucketCommand({ Bucket: spool.bucket }));
    return null;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    if (status === 404) return `the bucket "${spool.bucket}" does not exist`;
    if (status === 403 || status === 401) return `the store refuses our credentials for the bucket "${spool.bucket}" (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`;
    if (status !== undefined) return `the store answered HTTP ${status} for the bucket "${spool.bucket}"`;
    if (e.name === 'CredentialsProviderError') return 'no credentials for the store (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile or role)';
    return `the store is unreachable (${e.name})`;
  }
}

/**
 * An upload no job refers to is left by an upload that died half-way (or a crash before its job
 * row); past this age nobody is still writing it (with a shared spool, another instance may be).
 */
export const ORPHAN_AGE_MS = 60 * 60 * 1000;

export const newObjectLocation = (spool: S3Spool) => `s3://${spool.bucket}/${spool.prefix}${randomUUID()}.upload`;

export async function removeObject(spool: S3Spool, location: string, log: Logger): Promise<void> {
  const { DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  const { bucket, key } = splitObjectLocation(location);
  await spool.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))
    .catch((err: unknown) => log.warn({ err, location }, 'could not remove spool object'));
}

/**
 * The spool's objects and their sizes, by location, for SPOOL_MAX_BYTES (spoolReservations.ts).
 * Parts of multipart uploads under way are not objects yet: their uploads' reservations count them.
 */
export async function objectSizes(spool: S3Spool): Promise<Map<string, number>> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const sizes = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await spool.client.send(new ListObjectsV2Command({ Bucket: spool.bucket, Prefix: spool.prefix, ContinuationToken: token }));
    token = page.NextContinuationToken;
    for (const o of page.Contents ?? []) if (o.Key?.endsWith('.upload')) sizes.set(`s3://${spool.bucket}/${o.Key}`, o.Size ?? 0);
  } while (token);
  return sizes;
}

/** Aborts every multipart upload of `key` and deletes its object, if any (an upload that failed). */
export async function removeUploadLeftovers(spool: S3Spool, key: string): Promise<void> {
  const { ListMultipartUploadsCommand, AbortMultipartUploadCommand, DeleteObjectCommand } = await import('@aws-sdk/client-s3');
  const page = await spool.client.send(new ListMultipartUploadsCommand({ Bucket: spool.bucket, Prefix: key }));
  for (const upload of page.Uploads ?? []) {
    if (upload.Key === key) await spool.client.send(new AbortMultipartUploadCommand({ Bucket: spool.bucket, Key: key, UploadId: upload.UploadId }));
  }
  await spool.client.send(new DeleteObjectCommand({ Bucket: spool.bucket, Key: key }));
}

/**
 * The S3 spool's housekeeping, as sweepSpool's for a folder: removes the objects of jobs that
 * ended more than `retentionMs` ago and objects no job refers to after an hour, and aborts the
 * multipart uploads begun more than an hour ago (an instance killed while receiving a file), but
 * not those in `keep` (live staged uploads: their client sends the parts, at its own pace).
 */
export async function sweepS3Spool(
  db: SqlExecutor, spool: S3Spool, retentionMs: number, log: Logger, orphanAgeMs = ORPHAN_AGE_MS,
  keep: { locations: ReadonlySet<string>; s3UploadIds: ReadonlySet<string> } = { locations: new Set(), s3UploadIds: new Set() },
): Promise<number> {
  const { ListObjectsV2Command, ListMultipartUploadsCommand, AbortMultipartUploadCommand } = await import('@aws-sdk/client-s3');
  let removed = 0;
  let token: string | undefined;
  do {
    const page = await spool.client.send(new ListObjectsV2Command({ Bucket: spool.bucket, Prefix: spool.prefix, ContinuationToken: token }));
    token = page.NextContinuationToken;
    const objects = (page.Contents ?? []).filter((o) => o.Key?.endsWith('.upload'));
    if (objects.length === 0) continue;
    const locations = objects.map((o) => `s3://${spool.bucket}/${o.Key}`);
    const jobs = new Map((await jobsUsingSpoolFiles(db, locations)).map((u) => [u.spoolPath, u]));
    for (const [i, location] of locations.entries()) {
      const job = jobs.get(location);
      if (job?.active || keep.locations.has(location)) continue;
      const kept = job
        ? job.endedMs !== null && Date.now() - job.endedMs < retentionMs
        : Date.now() - (objects[i].LastModified?.getTime() ?? 0) < orphanAgeMs;
      if (kept) continue;
      await removeObject(spool, location, log);
      removed++;
    }
  } while (token);
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  do {
    const page = await spool.client.send(new ListMultipartUploadsCommand({ Bucket: spool.bucket, Prefix: spool.prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    for (const upload of page.Uploads ?? []) {
      if (Date.now() - (upload.Initiated?.getTime() ?? 0) < orphanAgeMs || keep.s3UploadIds.has(upload.UploadId ?? '')) continue;
      await spool.client.send(new AbortMultipartUploadCommand({ Bucket: spool.bucket, Key: upload.Key, UploadId: upload.UploadId }));
      removed++;
    }
  } while (keyMarker);
  if (removed) log.info({ removed }, 'removed spool objects');
  return removed;
}
