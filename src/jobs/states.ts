/**
 * A job's life:
 *
 *   QUEUED --claim--> RUNNING --last batch--> COMPLETED
 *                        |  \--fatal error / maxErrors--> FAILED
 *                        |  \--cancelJob--> CANCELLED      (QUEUED can be cancelled too)
 *                        \--lease expires (crash)--> claimed again, resumes at its checkpoint
 *                        \--time slice up, another tenant waits--> QUEUED, resumes at its checkpoint
 *
 * QUEUED and RUNNING are active: they count against MAX_ACTIVE_JOBS_PER_TENANT. The terminal
 * states never change again.
 */
export const JobStatus = {
  QUEUED: 'QUEUED',
  RUNNING: 'RUNNING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

export const ACTIVE_STATUSES: readonly JobStatus[] = [JobStatus.QUEUED, JobStatus.RUNNING];

export function isTerminal(status: string): boolean {
  return status === JobStatus.COMPLETED || status === JobStatus.FAILED || status === JobStatus.CANCELLED;
}
