/**
 * Opens the service's database: Postgres at DATABASE_URL, or else the embedded one under the data
 * folder: a PostgreSQL the service runs itself (embeddedCluster.ts), or PGlite in-process.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { EmbeddedDatabase } from '../config.js';
import { pgliteFolder, type Database } from './database.js';
import { clusterFolder } from './embeddedCluster.js';

export interface DatabaseSettings {
  databaseUrl?: string;
  databaseDirectUrl?: string;
  /** How long a statement may wait without a byte from the database (answerTimeout.ts). */
  databaseAnswerTimeoutMs?: number;
  dataDir: string;
  leaseMs?: number;
  embeddedDatabase?: EmbeddedDatabase;
}

export interface OpenOptions {
  /** Where the embedded database's notices go (the engine kept for an earlier data folder, the cluster's log). */
  log?: { warn(msg: string): void; debug(msg: string): void };
  /**
   * Use the embedded PostgreSQL another process (the server) runs on the data folder, if any,
   * instead of starting it: what the CLI does. The server starts its own or fails.
   */
  shareRunning?: boolean;
}

const hasDatabase = (folder: string) => fs.access(path.join(folder, 'PG_VERSION')).then(() => true, () => false);

/**
 * Which embedded engine the data folder runs on. A folder an earlier version filled on PGlite
 * stays on PGlite, where its keys and jobs are, with `earlierPglite` set so that the caller says
 * how to move; nothing in it is touched.
 */
export async function embeddedEngine(dataDir: string, setting: EmbeddedDatabase = 'postgres'): Promise<{ engine: EmbeddedDatabase; earlierPglite: boolean }> {
  if (setting === 'pglite') return { engine: 'pglite', earlierPglite: false };
  const earlierPglite = await hasDatabase(pgliteFolder(dataDir)) && !(await hasDatabase(clusterFolder(dataDir)));
  return { engine: earlierPglite ? 'pglite' : 'postgres', earlierPglite };
}

export const earlierPgliteNotice = (dataDir: string) => `The data folder ${dataDir} holds a PGlite database made by an earlier version; `
  + 'it keeps running on PGlite, which is slower and holds far more memory than the embedded PostgreSQL (docs/performance.md#the-embedded-database). '
  + 'To move: start with a new DATA_DIR and create your API keys again there (jobs already imported stay in this folder). '
  + 'To keep this one, set EMBEDDED_DATABASE=pglite, which also silences this warning.';

/** How long the embedded database keeps a pooled connection nobody uses. */
const EMBEDDED_IDLE_CONNECTION_S = 10;

export async function openDatabase(settings: DatabaseSettings, opts: OpenOptions = {}): Promise<Database> {
  if (settings.databaseUrl) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(settings.databaseUrl, { directUrl: settings.databaseDirectUrl, idleInTransactionTimeoutMs: settings.leaseMs, answerTimeoutMs: settings.databaseAnswerTimeoutMs });
  }
  const { engine, earlierPglite } = await embeddedEngine(settings.dataDir, settings.embeddedDatabase);
  if (earlierPglite) opts.log?.warn(earlierPgliteNotice(settings.dataDir));
  if (engine === 'pglite') {
    const { openPglite } = await import('./pglite.js');
    return openPglite(settings.dataDir);
  }
  const [{ runningClusterUrl, startCluster }, { openPostgres }] = await Promise.all([import('./embeddedCluster.js'), import('./postgres.js')]);
  const shared = opts.shareRunning ? await runningClusterUrl(settings.dataDir) : null;
  if (shared) return openPostgres(shared, { idleInTransactionTimeoutMs: settings.leaseMs, answerTimeoutMs: settings.databaseAnswerTimeoutMs });
  const cluster = await startCluster(settings.dataDir, (line) => opts.log?.debug(line));
  try {
    // The embedded database shares a laptop: each backend nobody uses is a process's memory given back.
    const db = await openPostgres(cluster.url, { idleInTransactionTimeoutMs: settings.leaseMs, idleConnectionTimeoutS: EMBEDDED_IDLE_CONNECTION_S, answerTimeoutMs: settings.databaseAnswerTimeoutMs });
    return { ...db, close: async () => { try { await db.close(); } finally { await cluster.stop(); } } };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
