/**
 * Runs one claimed job from its checkpoint to its end: the parse thread reads the spool file and
 * checks each row; this commits each batch (rows + errors + checkpoint in one transaction) and
 * tells subscribers. The thread parses ahead while a batch commits, so parsing and Postgres' COPY
 * keep both cores busy, and the event loop stays free for requests.
 */
import type { Database } from '../db/database.js';
import { getKind } from '../imports/kinds/index.js';
import type { ImportFormat } from '../imports/formats/types.js';
import { copyColumnsFor } from '../imports/rowPipeline.js';
import type { CopyEncoding } from '../imports/copyData.js';
import { binaryTypesOf } from '../db/copyBinary.js';
import { getJobById } from '../jobs/jobStore.js';
import { commitBatch, finishJob, LeaseLostError, releaseLease, renewLease, type Fence } from '../jobs/leases.js';
import { RecordIndex } from '../jobs/upsertRows.js';
import { JobStatus } from '../jobs/states.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import { retryTransient } from '../db/transientErrors.js';
import { parseInThread } from './parsedBatches.js';
import { removeSpoolFile } from '../imports/spool.js';

export interface RunnerDeps {
  db: Database;
  bus: ProgressBus;
  log: Logger;
  metrics: Metrics;
  batchSize: number;
  leaseMs: number;
  progressIntervalMs: number;
  spoolRetentionMs: number;
  /** Set at shutdown: the runner stops after the batch in hand and gives the job back. */
  stopping: () => boolean;
}

export type RunResult = 'finished' | 'handed-back' | 'lease-lost';

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

  // The lease is renewed by every commit, and by this timer when batches are slow to come, but
  // not while one commit has been stuck longer than a lease: then the job should go to another
  // runner (this one's late writes, if any, are fenced off).
  const reading = new AbortController();
  let commitStartedAt = 0;
  const heartbeat = setInterval(() => {
    if (commitStartedAt && Date.now() - commitStartedAt > deps.leaseMs) return;
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
  try {
    // Where the time goes, for the completion log: waiting on the parse thread vs committing.
    const timing = { parseWaitMs: 0, commitMs: 0 };
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
      // whether the lost attempt had committed after all.
      const commitStart = performance.now();
      commitStartedAt = Date.now();
      const { outcome, rowsWritten, rowsFailed } = await retryTransient(() => commitBatch(db, fence, step.value, target), {
        giveUpAfterMs: deps.leaseMs * 4,
        onRetry: (err, attempt, delayMs) => log.warn({ err, attempt, delayMs }, 'database unavailable; retrying the batch'),
      });
      commitStartedAt = 0;
      step.value.release(); // its COPY data is written: the parse thread may reuse the memory
      timing.commitMs += performance.now() - commitStart;
      if (outcome === 'committed') {
        deps.metrics.rowsImported.inc({ kind: job.kind }, rowsWritten);
        deps.metrics.rowsFailed.inc({ kind: job.kind }, rowsFailed);
      }
      if (outcome !== 'committed' && outcome !== 'already-committed') {
        log.info({ outcome }, 'job stopped');
        notify(true);
        if (deps.spoolRetentionMs === 0) await removeSpoolFile(job.spoolPath, log);
        return 'finished';
      }
      notify();
      if (deps.stopping()) {
        await releaseLease(db, fence);
        log.info('job handed back at shutdown');
        notify(true);
        return 'handed-back';
      }
    }
    const finished = await retryTransient(() => finishJob(db, fence, JobStatus.COMPLETED, null), { giveUpAfterMs: deps.leaseMs * 4 });
    if (!finished) throw new LeaseLostError(fence.jobId);
    log.info({ parseWaitMs: Math.round(timing.parseWaitMs), commitMs: Math.round(timing.commitMs) }, 'job completed');
    notify(true);
    if (deps.spoolRetentionMs === 0) await removeSpoolFile(job.spoolPath, log);
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
    await batches.return?.(undefined).catch(() => {});
  }
}

export async function failJob(deps: RunnerDeps, fence: Fence, err: unknown): Promise<void> {
  const reason = err instanceof Error ? err.message : String(err);
  // Fenced: a runner that lost the job must neither fail it nor remove the file its new owner reads.
  if (!(await finishJob(deps.db, fence, JobStatus.FAILED, reason))) return;
  await deps.bus.publishProgress(fence.jobId);
  const job = await getJobById(deps.db, fence.jobId);
  if (job?.spoolPath && deps.spoolRetentionMs === 0) await removeSpoolFile(job.spoolPath, deps.log);
}

