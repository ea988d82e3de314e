/**
 * In-process runners that claim queued jobs (FOR UPDATE SKIP LOCKED, so several instances on one
 * database never take the same job) and run them. A runner idles until a `job_queued` notice or
 * the poll interval, whichever comes first; the poll also picks up jobs whose lease expired.
 */
import type { S3Spool } from '../spool/s3Spool.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Database } from '../db/database.js';
import { claimJob } from '../jobs/leases.js';
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
}

export class RunnerPool {
  private stopping = false;
  private readonly runners: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private unsubscribe: (() => void) | null = null;
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly db: Database,
    private readonly bus: ProgressBus,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly opts: PoolOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.bus.onQueued(() => this.wakeAll());
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

  private async recordDuration(jobId: string, seconds: number): Promise<void> {
    const job = await getJobById(this.db, jobId).catch(() => null);
    if (job && isTerminal(job.status)) this.metrics.jobDuration.observe({ kind: job.kind, status: job.status }, seconds);
  }

  private async loop(index: number): Promise<void> {
    const deps: RunnerDeps = { db: this.db, bus: this.bus, log: this.log, metrics: this.metrics, ...this.opts, stopping: () => this.stopping };
    const owner = `${this.owner}/${index}`;
    while (!this.stopping) {
      let fence;
      try {
        fence = await claimJob(this.db, owner, this.opts.leaseMs);
      } catch (err) {
        this.log.error({ err }, 'claiming a job failed; retrying');
        await this.idle(this.opts.pollIntervalMs);
        continue;
      }
      if (!fence) { await this.idle(this.opts.pollIntervalMs); continue; }
      const started = performance.now();
      try {
        await runJob(deps, fence);
      } catch (err) {
        this.log.error({ err, jobId: fence.jobId }, 'job failed');
        await failJob(deps, fence, err).catch((e) => this.log.error({ err: e, jobId: fence.jobId }, 'could not mark the job failed'));
      }
      await this.recordDuration(fence.jobId, (performance.now() - started) / 1000);
    }
  }
}
