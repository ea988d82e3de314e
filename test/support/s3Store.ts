/**
 * The run's radosgw (started by radosgwSetup.ts): its settings and an S3 client on it. In CI a
 * missing radosgw fails the run; elsewhere the S3 tests are skipped with the reason printed.
 */
import { S3Client } from '@aws-sdk/client-s3';

export interface S3Store { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string; region: string }

/** Whether this run has a radosgw; outside CI, without one, the caller's tests are skipped and say why. */
export function requireS3(what: string): boolean {
  if (process.env.S3_ENDPOINT && process.env.S3_BUCKET) return true;
  const why = process.env.RADOSGW_MISSING ?? 'test/support/radosgwSetup.ts did not start it';
  if (process.env.CI) throw new Error(`${what} needs radosgw (CI must never skip it): ${why}`);
  console.warn(`skipped: ${what} needs radosgw: ${why}`);
  return false;
}

export function s3Store(): S3Store {
  const env = process.env;
  if (!env.S3_ENDPOINT || !env.S3_BUCKET) throw new Error(`no radosgw for this run: ${env.RADOSGW_MISSING ?? 'test/support/radosgwSetup.ts did not start it'}`);
  return {
    endpoint: env.S3_ENDPOINT,
    bucket: env.S3_BUCKET,
    accessKeyId: env.AWS_ACCESS_KEY_ID!,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY!,
    region: env.AWS_REGION ?? 'us-east-1',
  };
}

export function s3Client(store: S3Store, secretAccessKey = store.secretAccessKey): S3Client {
  return new S3Client({
    endpoint: store.endpoint,
    region: store.region,
    forcePathStyle: true,
    credentials: { accessKeyId: store.accessKeyId, secretAccessKey },
  });
}
