/**
 * Keeps a running job's lease. Every commit renews it, and so does this timer when batches are
 * slow to come; but not while one commit has been stuck for longer than a lease: then the job
 * should go to another runner (this one's late writes, if any, are fenced off).
 */
import type { Database } from '../db/database.js';
import { LeaseLostError, renewLease, type Fence } from '../jobs/leases.js';
import type { Logger } from '../logger.js';

export interface LeaseHeartbeat {
  /** Aborted, with a LeaseLostError as its reason, once another runner holds the job. */
  signal: AbortSignal;
  stop(): void;
}

/** `stuckSince`: when the oldest unfinished commit started, or null when none is under way. */
export function keepLease(db: Database, fence: Fence, leaseMs: number, stuckSince: () => number | null, log: Logger): LeaseHeartbeat {
  const lost = new AbortController();
  const timer = setInterval(() => {
    const since = stuckSince();
    if (since !== null && Date.now() - since > leaseMs) return;
    renewLease(db, fence, leaseMs)
      .then((held) => { if (!held) lost.abort(new LeaseLostError(fence.jobId)); })
      .catch((err) => log.warn({ err }, 'lease renewal failed'));
  }, Math.max(1000, leaseMs / 3));
  timer.unref();
  return {
    signal: lost.signal,
    stop: () => { clearInterval(timer); lost.abort(); },
  };
}
