/**
 * The stream behind `jobProgress`: the job as it is now, then a fresh read at every progress
 * notice (for a queued job, also at every change of the queue: its position), and at least every
 * PROGRESS_INTERVAL_MS while it runs, then the terminal state, then done.
 */
import type { AppContext } from '../context.js';
import { getJob, type Job } from '../../jobs/jobStore.js';
import { isTerminal, JobStatus } from '../../jobs/states.js';
import { retryTransient } from '../../db/transientErrors.js';

export async function* jobProgressStream(ctx: AppContext, first: Job): AsyncGenerator<Job> {
  let job: Job | null = first;
  yield job;
  while (!isTerminal(job.status)) {
    // A queued job's position moves when another job joins the queue or leaves it.
    await ctx.bus.nextChange(job.id, ctx.config.progressIntervalMs, undefined, { queue: job.status === JobStatus.QUEUED });
    const id: string = job.id;
    // A database restart pauses the stream instead of ending it: the job goes on, and so do we.
    job = await retryTransient((): Promise<Job | null> => getJob(ctx.db, ctx.tenant.id, id), { giveUpAfterMs: 120_000 });
    if (!job) return;
    // A slow reader skips snapshots (each one supersedes the last) instead of growing our memory;
    // the terminal state is always sent.
    if (!isTerminal(job.status) && ctx.congested?.()) continue;
    yield job;
  }
}
