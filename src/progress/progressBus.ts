/**
 * Job progress across processes. A runner NOTIFYs `job_progress` with the job id after a batch
 * commits; every instance LISTENs once and wakes the subscriptions for that id, so a client on
 * instance B follows a job that runs on A. The job row stays the one source of truth: a wake-up
 * only says "read it again".
 */
import { EventEmitter } from 'node:events';
import type { Database } from '../db/database.js';

const CHANNEL = 'job_progress';
const QUEUE_CHANNEL = 'job_queued';
/** A job left the queue (claimed, cancelled): the jobs behind it moved up. */
const QUEUE_MOVED_CHANNEL = 'job_queue_moved';

export class ProgressBus {
  private readonly local = new EventEmitter();
  private unlisten: (() => Promise<void>)[] = [];

  constructor(private readonly db: Database) {
    this.local.setMaxListeners(0);
  }

  async start(): Promise<void> {
    this.unlisten.push(await this.db.listen(CHANNEL, (jobId) => this.local.emit(`job:${jobId}`)));
    this.unlisten.push(await this.db.listen(QUEUE_CHANNEL, () => { this.local.emit('queued'); this.local.emit('queue'); }));
    this.unlisten.push(await this.db.listen(QUEUE_MOVED_CHANNEL, () => this.local.emit('queue')));
  }

  async stop(): Promise<void> {
    await Promise.all(this.unlisten.splice(0).map((u) => u().catch(() => {})));
  }

  publishProgress(jobId: string): Promise<void> {
    return this.db.notify(CHANNEL, jobId);
  }

  publishQueued(jobId: string): Promise<void> {
    return this.db.notify(QUEUE_CHANNEL, jobId);
  }

  publishQueueMoved(jobId: string): Promise<void> {
    return this.db.notify(QUEUE_MOVED_CHANNEL, jobId);
  }

  onQueued(listener: () => void): () => void {
    this.local.on('queued', listener);
    return () => this.local.off('queued', listener);
  }

  /**
   * Resolves at the job's next progress notice or after `timeoutMs`, whichever comes first; with
   * `queue` (the job is queued), also when the queue changes: a job joined it (it may go ahead:
   * claims are by tenant, jobs/claimOrder.ts) or left it.
   */
  nextChange(jobId: string, timeoutMs: number, signal?: AbortSignal, opts: { queue?: boolean } = {}): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.local.off(`job:${jobId}`, done);
        this.local.off('queue', done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.local.once(`job:${jobId}`, done);
      if (opts.queue) this.local.once('queue', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
