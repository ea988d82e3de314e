/**
 * cancelJob: a queued job is cancelled at once, and its upload released here (no runner will ever
 * see it); a running one is asked to stop, and its runner ends it at the next batch.
 */
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import { requestCancel, type Job } from '../jobs/jobStore.js';
import { JobStatus } from '../jobs/states.js';
import type { ProgressBus } from '../progress/progressBus.js';
import { releaseJobUpload, type UploadRelease } from '../spool/spool.js';

export interface CancelDeps { db: Database; bus: ProgressBus; log: Logger; release: UploadRelease }

/** The job as it is after the request, or null when the tenant has no such job. */
export async function cancelJob(deps: CancelDeps, tenantId: string, jobId: string): Promise<Job | null> {
  const job = await requestCancel(deps.db, tenantId, jobId);
  if (!job) return null;
  if (job.status === JobStatus.CANCELLED && job.spoolPath) await releaseJobUpload(job.spoolPath, deps.release, deps.log);
  await deps.bus.publishProgress(job.id);
  // A queued job left the queue: the jobs behind it moved up.
  if (job.status === JobStatus.CANCELLED) await deps.bus.publishQueueMoved(job.id);
  return job;
}
