/**
 * Runs one claimed job from its checkpoint to its end: the parse thread reads the spool file and
 * checks each row; this commits each batch (rows + errors + checkpoint in one transaction) and
 * tells subscribers. The thread parses ahead while a batch commits, so parsing and Postgres' COPY
 * keep both cores busy, and the event loop stays free for requests.
 */
import type { Database } from '../db/database.js';
import { getKind } from '../kinds/index.js';
import type { ImportFormat } from '../parse/types.js';
import { copyColumnsFor } from '../parse/rowPipeline.js';
import type { CopyEncoding } from '../parse/copyData.js';
import { binaryTypesOf } from '../db/binaryTypes.js';
import { getJobById } from '../jobs/jobStore.js';
import { finishJob, LeaseLostError, releaseLease, renewLease, type Fence } from '../jobs/leases.js';
import { commitBatch, type BatchResult } from './commitBatch.js';
import { RecordIndex } from './upsertRows.js';
import { JobStatus } from '../jobs/states.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import { retryTransient } from '../db/transientErrors.js';
import { parseInThread, type ParsedBatch } from '../parse/parsedBatches.js';
import { releaseJobUpload, type UploadRelease } from '../spool/spool.js';

export interface RunnerDeps {
  db: Database;
  bus: ProgressBus;
  log: Logger;
  metrics: Metrics;
  batchSize: number;
  leaseMs: number;
  progressIntervalMs: number;
  spoolRetentionMs: number;
  spoolSpareFiles: number;
  /** Set at shutdown: the runner stops after the batch in hand and gives the job back. */
  stopping: () => boolean;
}

export type RunResult = 'finished' | 'handed-back' | 'lease-lost';

/**
 * Batch transactions a job has under way at once against Postgres. Measured here (1M CSV rows,
 * import time after the upload, means of three interleaved runs): 1 at a time 7.7 s, 2 6.4 s,
 * 3 6.7 s, 4 7.6 s. Each holds a pool connection (postgres.ts: 10) for each of
 * WORKER_CONCURRENCY jobs.
 */
const COMMITS_IN_FLIGHT = 2;

export async function runJob(deps: RunnerDeps, fence: Fence): Promise<RunResult> {
  const { db, bus } = deps;
  const job = await getJobById(db, fence.jobId);
  if (!job || !job.spoolPath) throw new Error(`job ${fence.jobId} has no spool file`);
  const log = deps.log.child({ jobId: job.id, tenantId: job.tenantId });
  const kind = getKind(job.kind);
  const format = job.format as ImportFormat;
  const columns = copyColumnsFor({ kind, format, header: job.header });
  // Binary COPY costs Postgres less CPU; PGlite (no speed target) keeps to CSV.
  const binaryTypes = db.driver === 'postgres' ? binaryTypesOf(kind.table, columns) : null;
  const copy: CopyEncoding = binaryTypes ? { format: 'binary', types: binaryTypes } : { format: 'csv' };
  const target = {
    table: kind.table,
    columns,
    copyFormat: copy.format,
    dedupColumn: kind.columns.find((c) => c.name === kind.dedupColumn)?.dbColumn,
    dedupScope: kind.dedupScope,
    dryRun: job.dryRun,
    leaseMs: deps.leaseMs,
    upsert: kind.upsert
      ? { kind, tenantId: job.tenantId, locationType: job.locationType, dryRunRecords: job.dryRun ? new RecordIndex() : undefined }
      : undefined,
  };

  // Commits under way, in file order. Against a real Postgres a batch starts committing while the
  // ones before finish (jobs/leases.ts commitBatch `after`): several backends COPY at once, and one
  // batch's COMMIT (its WAL flush) no longer stalls the next. PGlite has one connection, and a
  // second transaction would wait for the first forever.
  const depth = db.driver === 'postgres' ? COMMITS_IN_FLIGHT : 1;
  const pending: PendingCommit[] = [];

  // The lease is renewed by every commit, and by this timer when batches are slow to come, but
  // not while one commit has been stuck longer than a lease: then the job should go to another
  // runner (this one's late writes, if any, are fenced off).
  const reading = new AbortController();
  const heartbeat = setInterval(() => {
    const committing = pending.find((c) => !c.settled);
    if (committing && Date.now() - committing.startedAt > deps.leaseMs) return;
    renewLease(db, fence, deps.leaseMs)
      .then((held) => { if (!held) reading.abort(new LeaseLostError(fence.jobId)); })
      .catch((err) => log.warn({ err }, 'lease renewal failed'));
  }, Math.max(1000, deps.leaseMs / 3));
  heartbeat.unref();

  let lastNotice = 0;
  const notify = (force = false) => {
    const now = Date.now();
    if (!force && now - lastNotice < deps.progressIntervalMs) return;
    lastNotice = now;
    bus.publishProgress(job.id).catch((err) => log.warn({ err }, 'progress notice failed'));
  };

  log.info({ from: job.checkpointOffset, attempt: fence.attempt }, job.checkpointOffset > 0 ? 'job resumed' : 'job started');
  notify(true);
  const batches = parseInThread({
    path: job.spoolPath, offset: job.checkpointOffset, line: job.checkpointLine, format, header: job.header,
    kind: kind.name, tenantId: job.tenantId, jobId: job.id, batchSize: deps.batchSize,
    jobValues: { collection: job.collection }, copy,
  });
  // Where the time goes, for the completion log: waiting on the parse thread vs on commits.
  const timing = { parseWaitMs: 0, commitMs: 0 };

  /** Waits for the oldest commit under way; false when the job is over for this runner. */
  const settleOldest = async (): Promise<boolean> => {
    const commit = pending[0];
    const waitStart = performance.now();
    const { outcome, rowsWritten, rowsFailed } = await commit.result;
    timing.commitMs += performance.now() - waitStart;
    pending.shift();
    commit.batch.release(); // its COPY data is written: the parse thread may reuse the memory
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
      if (reading.signal.aborted) throw reading.signal.reason;
      // A batch that failed on a lost connection is retried; commitBatch knows from the checkpoint
      // whether the lost attempt had committed after all. The batch before it failing for good
      // fails it too, and not as something worth retrying.
      const before = pending.at(-1)?.result.then(() => undefined, () => { throw new Error('the batch before this one failed'); });
      before?.catch(() => {}); // a commit that fails before it waits for `before` never reads it
      const result = retryTransient(() => commitBatch(db, fence, step.value, target, before), {
        giveUpAfterMs: deps.leaseMs * 4,
        onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, 'database unavailable; retrying the batch'),
      });
      result.catch(() => {}); // awaited in order by settleOldest
      const commit: PendingCommit = { batch: step.value, result, startedAt: Date.now(), settled: false };
      result.finally(() => { commit.settled = true; }).catch(() => {});
      pending.push(commit);
      if (pending.length < depth) continue;
      if (!(await settleOldest())) return await stopped();
      if (deps.stopping()) return await handBack();
    }
    while (pending.length) if (!(await settleOldest())) return await stopped();
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
    if (err instanceof LeaseLostError || reading.signal.reason instanceof LeaseLostError) {
      log.warn('lease lost; dropping the job');
      return 'lease-lost';
    }
    throw err;
  } finally {
    clearInterval(heartbeat);
    reading.abort();
    // No transaction of this job outlives the run: whatever is still committing ends first.
    await Promise.allSettled(pending.map((c) => c.result));
    await batches.return?.(undefined).catch(() => {});
  }

  /** A batch ended the job (cancelled, too many errors): the commit after it, if any, is fenced off by the job's status. */
  async function stopped(): Promise<RunResult> {
    await Promise.allSettled(pending.map((c) => c.result));
    notify(true);
    await releaseJobUpload(job!.spoolPath!, uploadRelease(deps), log);
    return 'finished';
  }

  /** Shutdown: the commits under way finish, then the job goes back to the queue at its checkpoint. */
  async function handBack(): Promise<RunResult> {
    while (pending.length) if (!(await settleOldest())) return stopped();
    await releaseLease(db, fence);
    log.info('job handed back at shutdown');
    notify(true);
    return 'handed-back';
  }
}

/** A batch whose transaction is under way. */
interface PendingCommit {
  batch: ParsedBatch;
  result: Promise<BatchResult>;
  startedAt: number;
  /** Its transaction is over (committed or failed); it may still wait in `pending` for the loop to read it. */
  settled: boolean;
}

export async function failJob(deps: RunnerDeps, fence: Fence, err: unknown): Promise<void> {
  const reason = err instanceof Error ? err.message : String(err);
  // Fenced: a runner that lost the job must neither fail it nor remove the file its new owner reads.
  if (!(await finishJob(deps.db, fence, JobStatus.FAILED, reason))) return;
  await deps.bus.publishProgress(fence.jobId);
  const job = await getJobById(deps.db, fence.jobId);
  if (job?.spoolPath) await releaseJobUpload(job.spoolPath, uploadRelease(deps), deps.log);
}

const uploadRelease = (deps: RunnerDeps): UploadRelease => ({ retentionMs: deps.spoolRetentionMs, spareFiles: deps.spoolSpareFiles });
