import type { IncomingMessage } from 'node:http';
import type { Tenant } from '../auth/apiKeys.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { Metrics } from '../ops/metrics.js';

/** What every resolver gets. `tenant` is set for every operation: unauthenticated ones never reach a resolver. */
export interface AppContext {
  db: Database;
  bus: ProgressBus;
  config: Config;
  log: Logger;
  metrics: Metrics;
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
