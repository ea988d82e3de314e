/**
 * In-process runners that claim queued jobs (FOR UPDATE SKIP LOCKED, so several instances on one
 * database never take the same job) and run them. A runner idles until a `job_queued` notice or
 * the poll interval, whichever comes first; the poll also picks up jobs whose lease expired.
 */
import type { S3Spool } from '../spool/s3Spool.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database } from '../db/database.js';
import { claimJob, releaseLease, type Fence } from '../jobs/leases.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import { failJob, runJob, type RunnerDeps } from './jobRunner.js';
import { getJobById } from '../jobs/jobStore.js';
import { isTerminal } from '../jobs/states.js';

export interface PoolOptions {
  concurrency: number;
  batchSize: number;
  leaseMs: number;
  pollIntervalMs: number;
  progressIntervalMs: number;
  spoolRetentionMs: number;
  s3Spool: S3Spool | null;
  spoolSpareFiles: number;
  /** JOB_SLICE_MS (runner/timeSlice.ts). */
  sliceMs: number;
}

/**
 * A job makes way after one slice for a tenant that has not been served for TURN_GAP_SLICES
 * slices: a tenant that just arrived (a small upload) gets a runner within about a slice, while
 * tenants whose long jobs take turns switch every few slices, each switch costing its job a
 * drained pipeline and a new parse thread (docs/performance.md, fairness).
 */
const TURN_GAP_SLICES = 3;

export class RunnerPool {
  private stopping = false;
  private readonly runners: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private unsubscribe: (() => void) | null = null;
  /** Moves at every job_queued notice: running jobs whose slice is up then look for a waiting tenant. */
  private queueChanges = 0;
  /** Runners of this pool inside a job's runs; fewer than all means one is free to claim. */
  private busy = 0;
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly db: Database,
    private readonly bus: ProgressBus,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly opts: PoolOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.bus.onQueued(() => { this.queueChanges++; this.wakeAll(); });
    for (let i = 0; i < this.opts.concurrency; i++) this.runners.push(this.loop(i));
  }

  /** Stops claiming; each runner finishes or hands back the batch in hand. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.wakeAll();
    await Promise.all(this.runners);
  }

  private wakeAll(): void {
    for (const wake of [...this.wakers]) wake();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => { clearTimeout(timer); this.wakers.delete(wake); resolve(); };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }

  /** A job left the queue: the queued jobs' subscribers read their position again. */
  private queueMoved(jobId: string): void {
    this.bus.publishQueueMoved(jobId).catch((err) => this.log.warn({ err }, 'queue notice failed'));
  }

  private async recordDuration(jobId: string, seconds: number): Promise<void> {
    const job = await getJobById(this.db, jobId).catch(() => null);
    if (job && isTerminal(job.status)) this.metrics.jobDuration.observe({ kind: job.kind, status: job.status }, seconds);
  }

  /** Runs a claimed job to the end of this run (finished, handed back, made way). */
  private async run(deps: RunnerDeps, fence: Fence): Promise<void> {
    const started = performance.now();
    try {
      await runJob(deps, fence);
    } catch (err) {
      this.log.error({ err, jobId: fence.jobId }, 'job failed');
      await failJob(deps, fence, err).catch((e) => this.log.error({ err: e, jobId: fence.jobId }, 'could not mark the job failed'));
    }
    await this.recordDuration(fence.jobId, (performance.now() - started) / 1000);
  }

  private async loop(index: number): Promise<void> {
    const owner = `${this.owner}/${index}`;
    // Runs of jobs claimed by a run that is making way for them (its time slice was up). Each
    // starts at once, while the job that made way still finishes the commits it has under way:
    // the waiting tenant does not wait for them too. This runner claims again when all are done.
    const madeWayFor = new Set<Promise<void>>();
    // Runs of this runner under way: two only while one that made way finishes its commits.
    let runs = 0;
    const runHere = async (fence: Fence) => {
      runs++;
      try { await this.run(deps, fence); } finally { runs--; }
    };
    const deps: RunnerDeps = {
      db: this.db, bus: this.bus, log: this.log, metrics: this.metrics, ...this.opts, stopping: () => this.stopping,
      queueChanges: () => this.queueChanges,
      claimWaiting: async (tenantId) => {
        // A runner of this pool that is free (or just finished) takes the waiting job itself:
        // making way for it too would hand a job back for nothing. While a run that made way still
        // finishes its commits, the one started beside it does not make way in turn: runs do not
        // pile up beside drains.
        if (this.busy < this.opts.concurrency || runs > 1 || this.stopping) return false;
        const next = await claimJob(this.db, owner, this.opts.leaseMs, { yieldingTenant: tenantId, waitedMs: this.opts.sliceMs * TURN_GAP_SLICES }).catch((err) => {
          this.log.warn({ err }, 'looking for a waiting tenant failed; the job goes on');
          return null;
        });
        if (!next) return false;
        if (this.stopping) {
          // Shutdown came while claiming: the job goes back at once instead of starting here.
          await releaseLease(this.db, next).catch((err) => this.log.warn({ err, jobId: next.jobId }, 'could not give back a claimed job'));
          return false;
        }
        this.queueMoved(next.jobId);
        const run = runHere(next).finally(() => madeWayFor.delete(run));
        madeWayFor.add(run);
        return true;
      },
    };
    while (!this.stopping) {
      let fence: Fence | null;
      try {
        fence = await claimJob(this.db, owner, this.opts.leaseMs);
        if (fence) this.queueMoved(fence.jobId);
      } catch (err) {
        this.log.error({ err }, 'claiming a job failed; retrying');
        await this.idle(this.opts.pollIntervalMs);
        continue;
      }
      if (!fence) { await this.idle(this.opts.pollIntervalMs); continue; }
      // Busy counts runners, not runs: one that made way is still one runner, however its runs overlap.
      this.busy++;
      try {
        await runHere(fence);
        while (madeWayFor.size) await Promise.all(madeWayFor);
      } finally {
        this.busy--;
      }
    }
  }
}
