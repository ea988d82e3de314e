/**
 * How every thread's S3 client reaches the spool's store (the main thread's, the hash thread's
 * uploads, the parse thread's reads): the endpoint and region from the environment, and time
 * limits. Without them the SDK waits on a store that accepted a connection and went silent for as
 * long as the socket stays open: an upload request hung, holding its tenant's upload slot, and a
 * job's read stalled instead of retrying.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';

/** To open a connection to the store. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * S3_TIMEOUT_MS: with nothing received or sent on a request's socket this long (not the whole
 * request: a part takes what it takes), the request fails and is retried as any store error is.
 * Read from the environment, as S3_ENDPOINT is: the threads that use it have no config object.
 */
const DEFAULT_S3_TIMEOUT_MS = 30_000;

export function silenceTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.S3_TIMEOUT_MS;
  const ms = raw === undefined || raw === '' ? DEFAULT_S3_TIMEOUT_MS : Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`S3_TIMEOUT_MS must be a positive whole number of milliseconds, got "${raw}"`);
  return ms;
}

/** The store's region, from the SDK's usual variables (it matters little to a store that is not AWS). */
export const storeRegion = (env: NodeJS.ProcessEnv = process.env): string => env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';

export function storeClientConfig(endpoint: string | undefined, region: string): S3ClientConfig {
  return {
    // Credentials from the SDK's usual sources (AWS_ACCESS_KEY_ID, profiles, roles); every thread shares process.env.
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    region,
    requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, socketTimeout: silenceTimeoutMs() },
  };
}
