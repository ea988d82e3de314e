/**
 * Runs one claimed job from its checkpoint to its end: the parse thread reads the spool file and
 * checks each row; this commits each batch (rows + errors + checkpoint in one transaction) and
 * tells subscribers. The thread parses ahead while a batch commits, so parsing and Postgres' COPY
 * keep both cores busy, and the event loop stays free for requests.
 */
import { retryTransient } from '../db/transientErrors.js';
import { getJobById, jobOptionsOf } from '../jobs/jobStore.js';
import { finishJob, LeaseLostError, releaseLease, requeueJob, type Fence } from '../jobs/leases.js';
import { JobStatus } from '../jobs/states.js';
import { parseInThread } from '../parse/parsedBatches.js';
import { releaseJobUpload, type UploadRelease } from '../spool/spool.js';
import { commitBatch } from './commitBatch.js';
import { CommitWindow } from './commitWindow.js';
import { keepLease } from './leaseHeartbeat.js';
import { isRevert, runRevert } from './revertJob.js';
import { progressNotifier } from './progressNotifier.js';
import { TimeSlice } from './timeSlice.js';
import { writeTargetFor } from './writeTarget.js';
import type { RunnerDeps, RunResult } from './runnerDeps.js';

export type { RunnerDeps, RunResult } from './runnerDeps.js';

/** Batch transactions a job has under way at once against Postgres (docs/performance.md has the measurements). */
const COMMITS_IN_FLIGHT = 2;

export async function runJob(deps: RunnerDeps, fence: Fence): Promise<RunResult> {
  const { db } = deps;
  const job = await getJobById(db, fence.jobId);
  if (job && isRevert(job)) return runRevert(deps, fence, job);
  if (!job || !job.spoolPath) throw new Error(`job ${fence.jobId} has no spool file`);
  const log = deps.log.child({ jobId: job.id, tenantId: job.tenantId });
  const { kind, format, copy, target } = writeTargetFor(db, job, deps.leaseMs);
  const commits = new CommitWindow(db.driver === 'postgres' ? COMMITS_IN_FLIGHT : 1);
  const lease = keepLease(db, fence, deps.leaseMs, () => commits.oldestUnsettledSince(), log);
  const notify = progressNotifier(deps.bus, job.id, deps.progressIntervalMs, log);
  const slice = new TimeSlice(deps.sliceMs, deps.queueChanges);

  log.info({ from: job.checkpointOffset, attempt: fence.attempt }, job.checkpointOffset > 0 ? 'job resumed' : 'job started');
  notify(true);
  const batches = parseInThread({
    path: job.spoolPath, offset: job.checkpointOffset, line: job.checkpointLine, format, header: job.header,
    delimiter: job.delimiter, columnMapping: job.columnMapping,
    kind: kind.name, tenantId: job.tenantId, jobId: job.id, batchSize: deps.batchSize,
    jobValues: jobOptionsOf(job), copy,
    // An S3 store away is waited for as long as the database would be (see the commits below).
    storeRetryMs: deps.leaseMs * 4,
  }, ({ attempt, delayMs, error }) => log.warn({ attempt, delayMs, error }, 'spool store unavailable; retrying the read'));
  // Where the time goes, for the completion log: waiting on the parse thread vs on commits.
  const timing = { parseWaitMs: 0, commitMs: 0 };

  /** Waits for the oldest commit under way; false when the job is over for this runner. */
  const settleOldest = async (): Promise<boolean> => {
    const waitStart = performance.now();
    const { outcome, rowsWritten, rowsFailed } = await commits.takeOldest();
    timing.commitMs += performance.now() - waitStart;
    if (outcome === 'committed') {
      deps.metrics.rowsImported.inc({ kind: job.kind }, rowsWritten);
      deps.metrics.rowsFailed.inc({ kind: job.kind }, rowsFailed);
    }
    if (outcome !== 'committed' && outcome !== 'already-committed') {
      log.info({ outcome }, 'job stopped');
      return false;
    }
    notify();
    return true;
  };

  try {
    let next = batches.next();
    for (;;) {
      const waitStart = performance.now();
      const step = await next;
      timing.parseWaitMs += performance.now() - waitStart;
      if (step.done) break;
      next = batches.next(); // the parse thread works ahead while this batch commits
      next.catch(() => {}); // its failure surfaces at the next await
      if (lease.signal.aborted) throw lease.signal.reason;
      // A batch that failed on a lost connection is retried; commitBatch knows from the checkpoint
      // whether the lost attempt had committed after all. The batch before it failing for good
      // fails it too, and not as something worth retrying.
      const before = commits.newest()?.then(() => undefined, () => { throw new Error('the batch before this one failed'); });
      before?.catch(() => {}); // a commit that fails before it waits for `before` never reads it
      commits.add(step.value, retryTransient(() => commitBatch(db, fence, step.value, target, before), {
        giveUpAfterMs: deps.leaseMs * 4,
        onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, 'database unavailable; retrying the batch'),
      }));
      if (!commits.full) continue;
      if (!(await settleOldest())) return await stopped();
      if (deps.stopping()) return await handBack();
      if (slice.shouldAsk() && await deps.claimWaiting(job.tenantId)) return await makeWay();
    }
    while (commits.size) if (!(await settleOldest())) return await stopped();
    const finished = await retryTransient(() => finishJob(db, fence, JobStatus.COMPLETED, null), { giveUpAfterMs: deps.leaseMs * 4 });
    if (!finished) throw new LeaseLostError(fence.jobId);
    log.info({ parseWaitMs: Math.round(timing.parseWaitMs), commitMs: Math.round(timing.commitMs) }, 'job completed');
    notify(true);
    // Every batch has been read: no reader of this job is left to see the file written over,
    // unless an earlier attempt's runner (which lost the job, maybe in a process that stalled) is
    // still reading; then the file is only removed, as an open file keeps its bytes.
    await releaseJobUpload(job.spoolPath, { ...uploadRelease(deps), mayBecomeSpare: fence.attempt === 1 }, log);
    return 'finished';
  } catch (err) {
    if (err instanceof LeaseLostError || lease.signal.reason instanceof LeaseLostError) {
      log.warn('lease lost; dropping the job');
      return 'lease-lost';
    }
    throw err;
  } finally {
    lease.stop();
    // No transaction of this job outlives the run: whatever is still committing ends first.
    await commits.allSettled();
    await batches.return?.(undefined).catch(() => {});
  }

  /** A batch ended the job (cancelled, too many errors): the commit after it, if any, is fenced off by the job's status. */
  async function stopped(): Promise<RunResult> {
    await commits.allSettled();
    notify(true);
    await releaseJobUpload(job!.spoolPath!, uploadRelease(deps), log);
    return 'finished';
  }

  /** Shutdown: the commits under way finish, then the job goes back to the queue at its checkpoint. */
  async function handBack(): Promise<RunResult> {
    while (commits.size) if (!(await settleOldest())) return stopped();
    await releaseLease(db, fence);
    log.info('job handed back at shutdown');
    notify(true);
    return 'handed-back';
  }

  /**
   * Time slice up and another tenant waits (already claimed for this runner): the commits under
   * way finish, then the job goes back to the queue at its checkpoint, and is resumed from there
   * as any job is (the checkpoint rules: nothing lost, nothing repeated).
   */
  async function makeWay(): Promise<RunResult> {
    while (commits.size) if (!(await settleOldest())) return stopped();
    if (!(await retryTransient(() => requeueJob(db, fence), { giveUpAfterMs: deps.leaseMs * 4 })) && !(await requeuedByUs(db, fence))) {
      throw new LeaseLostError(fence.jobId);
    }
    log.info('job handed back: its time slice is up and another tenant waits');
    notify(true);
    // Wakes idle runners anywhere in the fleet: the job goes on as soon as one is free.
    await deps.bus.publishQueued(fence.jobId).catch((err) => log.warn({ err }, 'queue notice failed'));
    return 'yielded';
  }
}

/**
 * Whether the job is back in the queue from this run's fence: a requeue whose answer was lost (the
 * connection closed after its commit) is retried, and the retry finds the job no longer RUNNING.
 */
async function requeuedByUs(db: RunnerDeps['db'], fence: Fence): Promise<boolean> {
  const job = await retryTransient(() => getJobById(db, fence.jobId), { giveUpAfterMs: 10_000 }).catch(() => null);
  return job?.status === JobStatus.QUEUED && job.attempt === fence.attempt;
}

export async function failJob(deps: RunnerDeps, fence: Fence, err: unknown): Promise<void> {
  const reason = err instanceof Error ? err.message : String(err);
  // Fenced: a runner that lost the job must neither fail it nor remove the file its new owner reads.
  if (!(await finishJob(deps.db, fence, JobStatus.FAILED, reason))) return;
  await deps.bus.publishProgress(fence.jobId);
  const job = await getJobById(deps.db, fence.jobId);
  if (job?.spoolPath) await releaseJobUpload(job.spoolPath, uploadRelease(deps), deps.log);
}

const uploadRelease = (deps: RunnerDeps): UploadRelease => ({ retentionMs: deps.spoolRetentionMs, spareFiles: deps.spoolSpareFiles, s3Spool: deps.s3Spool });
