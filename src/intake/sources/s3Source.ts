/**
 * s3://bucket/key sources, read with the tenant's own credentials through AWS's client
 * (@aws-sdk/client-s3: SigV4 signing, region redirects and error parsing are AWS's code, not ours).
 * With an `endpoint` (MinIO, R2, Ceph...), requests go there path-style (endpoint/bucket/key),
 * which every S3-compatible store serves. The client sees the credentials for one GetObject and is
 * then dropped; the secret never reaches a message (scrubbed from anything S3 says, too).
 */
import { Readable } from 'node:stream';
import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';
import type { UserError } from '../userErrors.js';
import { tooLargeMessage } from '../../spool/spool.js';
import { refusedHost, sourceAgents, watchedBody, type SourceSettings } from './network.js';

export interface S3Credentials { accessKeyId: string; secretAccessKey: string; region?: string | null; endpoint?: string | null }

export interface S3Spec {
  scheme: 's3';
  bucket: string;
  key: string;
  credentials: S3Credentials;
  endpoint: URL | null;
  filename: string | null;
}

type Failure = { ok: false } & UserError;

const URL_FIELD = ['input', 'url'];
const S3_FIELD = ['input', 's3'];

// S3's bucket naming rules (3-63 lower-case letters, digits, dots, hyphens), which compatible stores follow.
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,32}$/;

/** Errors that say the credentials (or their rights) are wrong, rather than the URL. */
const CREDENTIAL_ERRORS = new Set([
  'AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AuthorizationHeaderMalformed', 'ExpiredToken',
  'InvalidToken', 'TokenRefreshRequired', 'InvalidSecurity', 'AllAccessDisabled', 'AccountProblem',
]);

/**
 * `s3://bucket/key` as the AWS CLI reads it: the key is everything after the bucket's slash,
 * taken literally (not percent-decoded), so `s3://b/2024 exports/a.csv` is the key `2024 exports/a.csv`.
 */
export function parseS3Source(raw: string, credentials: S3Credentials | null | undefined, settings: SourceSettings): { ok: true; value: S3Spec } | Failure {
  const rest = raw.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const key = slash < 0 ? '' : rest.slice(slash + 1);
  if (!/^s3:\/\//i.test(raw) || !BUCKET.test(bucket) || key === '') {
    return { ok: false, code: 'INVALID_INPUT', message: 'url must be s3://bucket/key, with a valid bucket name and an object key', field: URL_FIELD };
  }
  if (!credentials?.accessKeyId || !credentials.secretAccessKey) {
    return { ok: false, code: 'INVALID_INPUT', message: 's3:// URLs need s3 credentials: accessKeyId and secretAccessKey (and region, or endpoint for S3-compatible stores)', field: S3_FIELD };
  }
  if (credentials.region != null && !REGION.test(credentials.region)) {
    return { ok: false, code: 'INVALID_INPUT', message: 's3.region is not a region name (like eu-west-1)', field: [...S3_FIELD, 'region'] };
  }
  let endpoint: URL | null = null;
  if (credentials.endpoint) {
    const endpointField = [...S3_FIELD, 'endpoint'];
    try { endpoint = new URL(credentials.endpoint); } catch {
      return { ok: false, code: 'INVALID_INPUT', message: 's3.endpoint is not a valid URL (like https://minio.example.com:9000)', field: endpointField };
    }
    if (endpoint.protocol !== 'https:' && !(endpoint.protocol === 'http:' && settings.allowInsecure)) {
      return { ok: false, code: 'INVALID_INPUT', message: 's3.endpoint must be an https:// URL', field: endpointField };
    }
    if (endpoint.username || endpoint.password || endpoint.search) {
      return { ok: false, code: 'INVALID_INPUT', message: 's3.endpoint must be a plain https://host[:port] URL, without user, password or query', field: endpointField };
    }
    const refused = refusedHost(endpoint.hostname, settings);
    if (refused) return { ok: false, code: 'INVALID_INPUT', message: `s3.endpoint: ${refused}`, field: endpointField };
  }
  return { ok: true, value: { scheme: 's3', bucket, key, credentials, endpoint, filename: key.slice(key.lastIndexOf('/') + 1) || null } };
}

export async function openS3Object(spec: S3Spec, settings: SourceSettings): Promise<{ ok: true; stream: Readable } | Failure> {
  // Loaded on first use: the SDK is large, and most servers never see an s3:// import.
  const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
  const { accessKeyId, secretAccessKey } = spec.credentials;
  const agents = sourceAgents(settings);
  const client = new S3Client({
    region: spec.credentials.region ?? 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    ...(spec.endpoint ? { endpoint: spec.endpoint.toString(), forcePathStyle: true } : { followRegionRedirects: true }),
    // The tenant's request alone decides where we connect: not AWS_ENDPOINT_URL or ~/.aws/config.
    ignoreConfiguredEndpointUrls: true,
    maxAttempts: 2,
    requestHandler: { ...agents, connectionTimeout: settings.timeoutMs, requestTimeout: settings.timeoutMs },
  });
  const where = `s3://${spec.bucket}/${spec.key}`;
  // Defence in depth: whatever a store (or a lower layer) puts in an error, the secret is cut out.
  const failure = (field: string[], message: string): Failure => ({ ok: false, code: 'INVALID_INPUT', message: message.split(secretAccessKey).join('[redacted]'), field });
  let object: GetObjectCommandOutput;
  try {
    object = await client.send(new GetObjectCommand({ Bucket: spec.bucket, Key: spec.key }));
  } catch (err) {
    client.destroy();
    const e = err as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
    const status = e.$metadata?.httpStatusCode;
    if (status !== undefined) {
      // An answer from the store: its error code (NoSuchKey, SignatureDoesNotMatch...) says what to fix.
      const code = e.Code ?? e.name;
      const detail = e.message && e.message !== code && e.message !== 'UnknownError' ? `: ${e.message}` : '';
      return failure(CREDENTIAL_ERRORS.has(code) ? S3_FIELD : URL_FIELD, `S3 refused to read ${where}: ${code} (HTTP ${status})${detail}`);
    }
    // No answer: unreachable endpoint, TLS failure, timeout, an address sources may not use.
    return failure(spec.endpoint ? [...S3_FIELD, 'endpoint'] : URL_FIELD, `Could not reach S3 for ${where}: ${e.message}`);
  }
  const body = object.Body;
  if (!(body instanceof Readable)) throw new Error('S3 GetObject answered without a Node stream body');
  if (object.ContentLength != null && object.ContentLength > settings.maxBytes) {
    client.destroy();
    return { ok: false, code: 'FILE_TOO_LARGE', message: tooLargeMessage(settings.maxBytes), field: URL_FIELD };
  }
  // The client is not destroyed here: that would destroy its agents, and with them the socket
  // the body streams from. It holds nothing else; the garbage collector takes it.
  return { ok: true, stream: watchedBody(body, settings) };
}
