/** What a runner needs to run a job (an import from its file, or a revert), and how a run ends. */
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { S3Spool } from '../spool/s3Spool.js';

export interface RunnerDeps {
  db: Database;
  bus: ProgressBus;
  log: Logger;
  metrics: Metrics;
  batchSize: number;
  leaseMs: number;
  progressIntervalMs: number;
  spoolRetentionMs: number;
  /** The S3 spool's store, where an s3:// upload is removed; null for a folder spool. */
  s3Spool: S3Spool | null;
  spoolSpareFiles: number;
  /** Set at shutdown: the runner stops after the batch in hand and gives the job back. */
  stopping: () => boolean;
  /** JOB_SLICE_MS: how long a job runs before it makes way for another tenant's waiting job (0: never). */
  sliceMs: number;
  /** A counter that moves at every job_queued notice (runner/timeSlice.ts). */
  queueChanges: () => number;
  /**
   * Claims, for this runner's next run, a queued job of another tenant that has none running;
   * false when there is none. Claiming before handing back means that of several runners whose
   * slices are up, only one makes way for each waiting tenant.
   */
  claimWaiting: (tenantId: string) => Promise<boolean>;
}

export type RunResult = 'finished' | 'handed-back' | 'yielded' | 'lease-lost';
