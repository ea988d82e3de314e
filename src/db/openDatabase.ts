/** Opens the service's database: Postgres at DATABASE_URL, or else the embedded PGlite under the data folder. */
import type { Database } from './database.js';

export async function openDatabase(opts: { databaseUrl?: string; databaseDirectUrl?: string; dataDir: string; leaseMs?: number }): Promise<Database> {
  if (opts.databaseUrl) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(opts.databaseUrl, { directUrl: opts.databaseDirectUrl, idleInTransactionTimeoutMs: opts.leaseMs });
  }
  const { openPglite } = await import('./pglite.js');
  return openPglite(opts.dataDir);
}
