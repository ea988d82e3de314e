/**
 * Runs a revert job (revertJob): undoes an import batch by batch, each batch one transaction that
 * locks the job row (fenced by its attempt, as an import's batches are), reads the cursor from its
 * checkpoint, undoes the next rows, writes their row errors (conflicts), and moves the counters and
 * the cursor. So a crash, a lost commit or a lost lease neither skips nor repeats a row, a
 * cancellation stops it between batches, and a dry run walks the same rows writing only its counts
 * and errors. Appended kinds delete the import's rows (revertAppended.ts); roster kinds undo its
 * outcomes last line first (revertRecords.ts).
 */
import type { Transaction } from '../db/database.js';
import { retryTransient } from '../db/transientErrors.js';
import { getJobById, type Job } from '../jobs/jobStore.js';
import { advanceCheckpoint, finishIn, LeaseLostError, lockForBatch, releaseLease, type Fence } from '../jobs/leases.js';
import { insertRowErrors } from '../jobs/rowErrors.js';
import { JobStatus } from '../jobs/states.js';
import { getKind } from '../kinds/index.js';
import type { RunnerDeps, RunResult } from './runnerDeps.js';
import type { RevertContext, UndoStep } from './revertSteps.js';
import { keepLease } from './leaseHeartbeat.js';
import { progressNotifier } from './progressNotifier.js';
import { appendedRowsUndo } from './revertAppended.js';
import { rosterUndo } from './revertRecords.js';

export async function runRevert(deps: RunnerDeps, fence: Fence, revert: Job): Promise<RunResult> {
  const { db } = deps;
  const original = await getJobById(db, revert.revertOf!);
  if (!original) throw new Error(`job ${revert.revertOf} to revert is gone`);
  const log = deps.log.child({ jobId: revert.id, tenantId: revert.tenantId, revertOf: original.id });
  const ctx: RevertContext = { revert, original, batchSize: deps.batchSize };
  const step = getKind(revert.kind).upsert ? rosterUndo(ctx) : await appendedRowsUndo(db, ctx);
  let committing: number | null = null;
  const lease = keepLease(db, fence, deps.leaseMs, () => committing, log);
  const notify = progressNotifier(deps.bus, revert.id, deps.progressIntervalMs, log);
  log.info({ from: revert.checkpointOffset, attempt: fence.attempt, dryRun: revert.dryRun }, 'revert started');
  notify(true);
  try {
    for (;;) {
      if (lease.signal.aborted) throw lease.signal.reason;
      committing = Date.now();
      const outcome = await retryTransient(() => db.transaction((tx) => revertBatch(tx, fence, step, deps.leaseMs)), {
        giveUpAfterMs: deps.leaseMs * 4,
        onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, 'database unavailable; retrying the batch'),
      });
      committing = null;
      notify(outcome !== 'committed');
      if (outcome !== 'committed') {
        log.info({ outcome }, 'revert ended');
        return 'finished';
      }
      if (deps.stopping()) {
        await releaseLease(db, fence);
        log.info('revert handed back at shutdown');
        return 'handed-back';
      }
    }
  } catch (err) {
    if (err instanceof LeaseLostError || lease.signal.reason instanceof LeaseLostError) {
      log.warn('lease lost; dropping the revert');
      return 'lease-lost';
    }
    throw err;
  } finally {
    lease.stop();
  }
}

async function revertBatch(tx: Transaction, fence: Fence, step: UndoStep, leaseMs: number): Promise<'committed' | 'completed' | 'cancelled'> {
  const job = await lockForBatch(tx, fence);
  if (job.cancel_requested) {
    await finishIn(tx, fence, JobStatus.CANCELLED, null);
    return 'cancelled';
  }
  const done = await step(tx, Number(job.checkpoint_offset));
  if (!done) {
    await finishIn(tx, fence, JobStatus.COMPLETED, null);
    return 'completed';
  }
  if (done.errors.length > 0) await insertRowErrors(tx, fence.jobId, done.errors);
  await advanceCheckpoint(tx, fence, {
    rowsProcessed: done.processed, rowsImported: done.undone, rowsFailed: done.errors.length, rowsDuplicate: 0,
    rowsCreated: 0, rowsUpdated: done.restored, rowsUnchanged: done.unchanged, offset: done.cursor, line: 0,
  }, leaseMs);
  return 'committed';
}

/** Whether a job is a revert, run by runRevert rather than from a file. */
export const isRevert = (job: Job): boolean => job.revertOf !== null;

