/**
 * The S3 spool's store (SPOOL_URL=s3://bucket/prefix): its client, and the check made at start
 * that the store takes our credentials and has the bucket, so a wrong secret or a missing bucket
 * stops the service with a message saying which, not the first upload.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3SpoolLocation } from '../config.js';

export interface S3Spool {
  client: S3Client;
  bucket: string;
  /** Every key the spool writes starts with it ('' or ending in '/'). */
  prefix: string;
  /** s3://bucket/prefix, for messages. */
  url: string;
}

export async function openS3Spool(location: S3SpoolLocation, endpoint: string | undefined): Promise<S3Spool> {
  // Loaded only here: the SDK is large, and a folder spool never needs it.
  const { S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({
    // Credentials and region from the SDK's usual sources (AWS_ACCESS_KEY_ID, AWS_REGION, profiles, roles).
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    region: process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1',
  });
  return { client, ...location, url: `s3://${location.bucket}/${location.prefix}` };
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
