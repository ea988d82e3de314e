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
}

export type RunResult = 'finished' | 'handed-back' | 'lease-lost';
