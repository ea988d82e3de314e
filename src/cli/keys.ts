/**
 * `keys create|list|revoke`. Against Postgres they write directly, and so they do on the embedded
 * PostgreSQL: while the server runs, through its port (the cluster's postmaster.pid); with no
 * server, the command starts the cluster for the moment it needs. On the PGlite fallback
 * (EMBEDDED_DATABASE=pglite, or a data folder made by an earlier version) the folder belongs to the
 * server while it runs, so `keys create` and `revoke` hand their change to it through the key
 * inbox (auth/keyInbox.ts), and `keys list` waits for it to stop.
 *
 * The embedded folder is DATA_DIR, by default ./data of the current folder: run from another
 * folder, or with another DATA_DIR than the server's, a key lands in a database no server reads.
 * So with no server on the folder the commands say so on stderr, naming the folder, and refuse
 * outright when the folder holds no database at all (they would create one only to hold the key).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { createKey, generateKey, hashKey, listKeys, revokeKey } from '../auth/apiKeys.js';
import { embeddedServerRunning, postToInbox, serverPidFile, waitUntilTaken } from '../auth/keyInbox.js';
import type { Config } from '../config.js';
import { pgliteFolder, type Database } from '../db/database.js';
import { clusterFolder, runningClusterUrl } from '../db/embeddedCluster.js';
import { embeddedEngine, openDatabase } from '../db/openDatabase.js';
import { commandLine } from './commandName.js';

/**
 * Where a key command's change goes: Postgres (DATABASE_URL, or the embedded PostgreSQL a server
 * runs), the running PGlite server's inbox, or the embedded folder with no server on it.
 */
type Target = 'postgres' | 'pglite server' | 'embedded folder';

const pointAtServer = 'set DATA_DIR to its data folder (by default ./data in the folder it was started from)';

/**
 * `change` says what the command writes ("The new key is stored"); writing where no server reads
 * gets a warning that names the folder.
 */
async function targetOf(config: Config, change?: string): Promise<Target> {
  if (config.databaseUrl) return 'postgres';
  const { dataDir } = config;
  const { engine } = await embeddedEngine(dataDir, config.embeddedDatabase);
  if (engine === 'postgres' && await runningClusterUrl(dataDir)) return 'postgres';
  if (engine === 'pglite' && await embeddedServerRunning(dataDir)) return 'pglite server';
  const folder = engine === 'pglite' ? pgliteFolder(dataDir) : clusterFolder(dataDir);
  const hasDatabase = await fs.access(path.join(folder, 'PG_VERSION')).then(() => true, () => false);
  if (!hasDatabase) {
    throw new Error(`No bulk-import server is running on the data folder ${dataDir}, and the folder holds no database. `
      + `Start the server first (${commandLine('serve')}); if one is running elsewhere, ${pointAtServer}, or DATABASE_URL for PostgreSQL.`);
  }
  if (change) {
    console.error(`Warning: no bulk-import server is running on the data folder ${dataDir}. ${change} in the database there `
      + `and takes effect for a server on that folder. If your server runs elsewhere, ${pointAtServer}.`);
  }
  return 'embedded folder';
}

async function withDatabase<T>(config: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(config, { shareRunning: true });
  try { return await fn(db); } finally { await db.close(); }
}

const notTaken = (config: Config, what: string) => new Error(
  `The server named in ${serverPidFile(config.dataDir)} did not take the ${what} within 15 s; is it healthy? `
  + 'If no server runs on that folder any more, delete that file and run this again.',
);

export function registerKeyCommands(program: Command, loadConfig: () => Config): void {
  const keys = program.command('keys').description('Manage API keys');

  keys.command('create').description('Create an API key for a tenant (created if new); prints the key alone')
    .requiredOption('--tenant <name>', 'tenant name')
    .action(async ({ tenant }: { tenant: string }) => {
      const config = loadConfig();
      if (await targetOf(config, 'The new key is stored') === 'pglite server') {
        const { key, hash, prefix } = generateKey();
        const file = await postToInbox(config.dataDir, { op: 'create', tenant, hash, prefix });
        if (!(await waitUntilTaken(file, 15_000))) {
          await fs.rm(file, { force: true });
          throw notTaken(config, 'new key');
        }
        process.stdout.write(`${key}\n`);
        return;
      }
      const key = await withDatabase(config, (db) => createKey(db, tenant));
      process.stdout.write(`${key}\n`);
    });

  keys.command('list').description('List API keys (their prefixes, never the keys)')
    .option('--tenant <name>', 'only this tenant')
    .option('--json', 'print JSON')
    .action(async (opts: { tenant?: string; json?: boolean }, command: Command) => {
      // The top-level --json (client commands) takes the flag when it follows `keys list`.
      const json = opts.json || (command.optsWithGlobals() as { json?: boolean }).json;
      const config = loadConfig();
      if (await targetOf(config) === 'pglite server') {
        throw new Error('The PGlite database is held by the running server; stop it to list keys (or use DATABASE_URL, or the embedded PostgreSQL: docs/performance.md#the-embedded-database)');
      }
      const rows = await withDatabase(config, (db) => listKeys(db, opts.tenant));
      if (json) { process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`); return; }
      for (const k of rows) {
        process.stdout.write(`${k.id}  ${k.tenant.padEnd(20)}  ${k.prefix}…  ${k.createdAt.toISOString()}${k.revokedAt ? '  revoked' : ''}\n`);
      }
    });

  keys.command('revoke').description('Revoke an API key by its id (from keys list) or the key itself')
    .argument('<idOrKey>')
    .action(async (idOrKey: string) => {
      const config = loadConfig();
      if (await targetOf(config, 'The key is revoked') === 'pglite server') {
        const file = await postToInbox(config.dataDir, { op: 'revoke', idOrKeyHash: idOrKey.startsWith('bik_') ? hashKey(idOrKey) : idOrKey });
        if (!(await waitUntilTaken(file, 15_000))) throw notTaken(config, 'revocation');
        console.error('Revocation sent to the running server');
        return;
      }
      const revoked = await withDatabase(config, (db) => revokeKey(db, idOrKey));
      if (!revoked) { console.error('No such live key'); process.exit(1); }
      console.error('Revoked');
    });
}
