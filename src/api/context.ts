import type { IncomingMessage } from 'node:http';
import type { Tenant } from '../auth/apiKeys.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { Metrics } from '../ops/metrics.js';
import type { S3Spool } from '../spool/s3Spool.js';
import type { UploadStore } from '../intake/uploadStore.js';
import type { StagedStorage } from '../intake/stagedUploads/stagedStorage.js';

/** What every resolver gets. `tenant` is set for every operation: unauthenticated ones never reach a resolver. */
export interface AppContext {
  db: Database;
  bus: ProgressBus;
  config: Config;
  log: Logger;
  metrics: Metrics;
  /** Where arriving files are spooled (a folder, or the S3 store). */
  uploads: UploadStore;
  /** Where staged uploads' parts go (the spool file, or the S3 store's multipart upload). */
  staged: StagedStorage;
  /** The S3 spool's store; null for a folder spool. */
  s3Spool: S3Spool | null;
  tenant: Tenant;
  /**
   * The base of the absolute URLs we hand out, without a trailing slash (PUBLIC_URL, a trusted
   * proxy's forwarded host, or our listening address: http/publicUrl.ts); join paths with joinUrl.
   */
  origin: string;
  /** The Node request (HTTP only; Yoga merges it in from the server context). */
  req?: IncomingMessage;
  /** Over a WebSocket: true while the client reads too slowly (its unsent data is piling up). */
  congested?: () => boolean;
}
