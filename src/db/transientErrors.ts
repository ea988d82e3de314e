/**
 * Which database errors are worth retrying: the connection went away (Postgres restarted, the
 * network blinked) or the server asked us to try again. Anything else is a real failure.
 */
import { ANSWER_TIMEOUT_CODE } from './answerTimeout.js';

const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND',
  // postgres.js' own codes for a connection that closed under a query
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  // ours, for a connection closed because the database stopped answering on it (answerTimeout.ts)
  ANSWER_TIMEOUT_CODE,
]);

export function isTransientDatabaseError(err: unknown): boolean {
  // Drizzle wraps the driver's error ("Failed query: ...") and keeps it as the cause.
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (cause && cause !== err && isTransientDatabaseError(cause)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  if (TRANSIENT_NODE_CODES.has(code)) return true;
  // SQLSTATE: 08 connection exception, 57P01-57P03 shutdown / cannot connect now,
  // 53 insufficient resources, 40001 serialization failure, 40P01 deadlock, 25P03 the session
  // ended for idling in its transaction (a batch waiting on a slow commit before it: redone on a
  // new connection, where the job's fence still decides whether it may write).
  return code.startsWith('08') || /^57P0[123]$/.test(code) || code.startsWith('53') || code === '40001' || code === '40P01' || code === '25P03';
}

export interface RetryOptions {
  /** Give up (rethrow) once this much time has passed since the first failure. */
  giveUpAfterMs: number;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Stop retrying early, e.g. at shutdown. */
  shouldStop?: () => boolean;
}

/** Runs `fn`, retrying transient database errors with exponential backoff (100 ms doubling, at most 5 s). */
export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  // From the first failure, not the first attempt: an attempt may wait long before it can fail (a
  // batch committing behind the one before it), and that wait is not time spent retrying.
  let firstFailure: number | null = null;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      firstFailure ??= Date.now();
      if (!isTransientDatabaseError(err) || Date.now() - firstFailure > opts.giveUpAfterMs || opts.shouldStop?.()) throw err;
      const delayMs = Math.min(5000, 100 * 2 ** (attempt - 1));
      opts.onRetry?.(err, attempt, delayMs);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
}
