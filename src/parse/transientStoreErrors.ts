/**
 * Which S3 store errors are worth retrying: the store could not be reached or broke off (a
 * restart, the network blinked, a load balancer in front of it dropped the connection) or asked
 * us to slow down. Anything else (access refused, no such object or bucket) is a real failure.
 * The S3 counterpart of db/transientErrors.ts, with no imports: the parse thread reads the store
 * (objectChunks.ts), and the spool writes to it.
 */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
]);
const TRANSIENT_NAMES = new Set([
  'TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'ServiceUnavailable', 'InternalError',
  'ThrottlingException', 'Throttling', 'TooManyRequestsException',
]);

export function isTransientStoreError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (e.cause && e.cause !== err && isTransientStoreError(e.cause)) return true;
  if (typeof e.code === 'string' && TRANSIENT_NODE_CODES.has(e.code)) return true;
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  // A response body cut off half-way: Node says "aborted" or "terminated" without a code.
  return typeof e.message === 'string' && /^(aborted|terminated|socket hang up)$/i.test(e.message);
}

/** The backoff between two tries, as retryTransient's for the database: 100 ms doubling, at most 5 s. */
export const retryDelayMs = (attempt: number) => Math.min(5000, 100 * 2 ** (attempt - 1));
