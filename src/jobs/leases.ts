/**
 * The runner's side of import_jobs: claiming, locking for a batch, moving the checkpoint, renewing
 * and giving back the lease, finishing. Every write after the claim is fenced by (id, attempt): a
 * claim bumps `attempt`, so a runner that lost its lease (it stalled, another took over) writes nothing.
 */
import type { Database, Transaction } from '../db/database.js';
import { JobStatus } from './states.js';
import { CLAIM_ORDER, markServed, TENANT_NOT_RUNNING } from './claimOrder.js';
import { endJobSql } from './jobEndings.js';

export interface Fence { jobId: string; attempt: number }

export class LeaseLostError extends Error {
  constructor(jobId: string) { super(`lease on job ${jobId} was lost to another runner`); }
}

/**
 * Claims the next job in the claim order (claimOrder.ts): a queued one, or a running one whose
 * lease has expired (its runner died). With `yieldingTenant`, only a queued job of another tenant
 * that has no job running and has waited at least `waitedMs` since it was last served: what a
 * runner whose time slice is up hands its job over to. (A tenant that has just made way itself
 * waits its turn, so two runners do not hand their jobs back and forth.)
 */
export async function claimJob(db: Database, owner: string, leaseMs: number, opts: { yieldingTenant?: string; waitedMs?: number } = {}): Promise<Fence | null> {
  const candidates = opts.yieldingTenant
    ? `j.status = 'QUEUED' and j.tenant_id <> $3 and ${TENANT_NOT_RUNNING}
       and not exists (select 1 from tenant_service s where s.tenant_id = j.tenant_id
                       and s.served_at > now() - $4 * interval '1 millisecond')`
    : `j.status = 'QUEUED' or (j.status = 'RUNNING' and j.lease_expires_at < now())`;
  const [row] = await db.query<{ id: string; attempt: number }>(
    `with claimed as (
       update import_jobs set status = 'RUNNING', lease_owner = $1, attempt = attempt + 1,
         lease_expires_at = now() + $2 * interval '1 millisecond', started_at = coalesce(started_at, now())
       where id = (
         select j.id from import_jobs j where ${candidates}
         order by ${CLAIM_ORDER} for update of j skip locked limit 1)
       returning id, attempt, tenant_id),
     ${markServed('claimed')}
     select id, attempt from claimed`,
    opts.yieldingTenant ? [owner, leaseMs, opts.yieldingTenant, opts.waitedMs ?? 0] : [owner, leaseMs],
  );
  return row ? { jobId: row.id, attempt: row.attempt } : null;
}

/** Locks the job row for a batch's transaction; throws LeaseLostError when the fence no longer holds. */
export async function lockForBatch(tx: Transaction, fence: Fence): Promise<{ cancel_requested: boolean; max_errors: number | null; rows_failed: number; checkpoint_offset: number }> {
  const [job] = await tx.query<{ cancel_requested: boolean; max_errors: number | null; rows_failed: number; checkpoint_offset: number }>(
    `select cancel_requested, max_errors, rows_failed, checkpoint_offset from import_jobs
     where id = $1 and attempt = $2 and status = 'RUNNING' for update`,
    [fence.jobId, fence.attempt],
  );
  if (!job) throw new LeaseLostError(fence.jobId);
  return job;
}

/** A batch's counters, added to the job's, and the checkpoint it moves the job to. */
export interface BatchCounts {
  rowsProcessed: number; rowsImported: number; rowsFailed: number; rowsDuplicate: number;
  rowsCreated: number; rowsUpdated: number; rowsUnchanged: number; offset: number; line: number;
}

/** Moves counters and checkpoint together, in the batch's transaction, and extends the lease. */
export async function advanceCheckpoint(tx: Transaction, fence: Fence, c: BatchCounts, leaseMs: number): Promise<void> {
  await tx.query(
    `update import_jobs set
       rows_processed = rows_processed + $3, rows_imported = rows_imported + $4, rows_failed = rows_failed + $5,
       rows_duplicate = rows_duplicate + $9, rows_created = rows_created + $10, rows_updated = rows_updated + $11,
       rows_unchanged = rows_unchanged + $12,
       bytes_processed = $6, checkpoint_offset = $6, checkpoint_line = $7,
       lease_expires_at = clock_timestamp() + $8 * interval '1 millisecond'
     where id = $1 and attempt = $2`,
    [fence.jobId, fence.attempt, c.rowsProcessed, c.rowsImported, c.rowsFailed,
      c.offset, c.line, leaseMs, c.rowsDuplicate, c.rowsCreated, c.rowsUpdated, c.rowsUnchanged],
  );
}

/** Ends the job; false when the fence no longer holds (another runner has it), and nothing changed. */
export async function finishIn(tx: Transaction, fence: Fence, status: JobStatus, reason: string | null): Promise<boolean> {
  // The job's end and its row in the outbox of job ends (webhooks) commit together.
  const rows = await tx.query(endJobSql(
    `update import_jobs set status = $3, failure_reason = $4, finished_at = now(), lease_owner = null,
       lease_expires_at = null, rows_total = case when $3 = 'COMPLETED' then rows_processed else rows_total end
     where id = $1 and attempt = $2 and status = 'RUNNING' returning id, tenant_id, status`),
    [fence.jobId, fence.attempt, status, reason],
  );
  return rows.length > 0;
}

export async function finishJob(db: Database, fence: Fence, status: JobStatus, reason: string | null): Promise<boolean> {
  return db.transaction((tx) => finishIn(tx, fence, status, reason));
}

/** Extends the lease; false when it was lost. */
export async function renewLease(db: Database, fence: Fence, leaseMs: number): Promise<boolean> {
  const rows = await db.query(
    `update import_jobs set lease_expires_at = now() + $3 * interval '1 millisecond'
     where id = $1 and attempt = $2 and status = 'RUNNING' returning id`,
    [fence.jobId, fence.attempt, leaseMs],
  );
  return rows.length > 0;
}

/** Gives the job back at shutdown: still RUNNING, but claimable at once from its checkpoint. */
export async function releaseLease(db: Database, fence: Fence): Promise<void> {
  await db.query(
    `update import_jobs set lease_owner = null, lease_expires_at = now() - interval '1 second'
     where id = $1 and attempt = $2 and status = 'RUNNING'`,
    [fence.jobId, fence.attempt],
  );
}

/**
 * Puts the job back in the queue at its checkpoint (its time slice is up and another tenant
 * waits), its tenant marked served; false when the fence no longer holds.
 */
export async function requeueJob(db: Database, fence: Fence): Promise<boolean> {
  const rows = await db.query(
    `with requeued as (
       update import_jobs set status = 'QUEUED', lease_owner = null, lease_expires_at = null
       where id = $1 and attempt = $2 and status = 'RUNNING' returning tenant_id),
     ${markServed('requeued')}
     select 1 from requeued`,
    [fence.jobId, fence.attempt],
  );
  return rows.length > 0;
}
