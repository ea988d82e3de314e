/**
 * `keys create|list|revoke`. Against Postgres they write directly. In embedded mode the PGlite
 * folder belongs to the server while it runs, so `keys create` hands the new key's hash to it
 * through the key inbox (auth/keyInbox.ts) and prints the key once the server has stored it; with
 * no server running, it opens the folder itself.
 */
import fs from 'node:fs/promises';
import type { Command } from 'commander';
import { createKey, generateKey, hashKey, listKeys, revokeKey } from '../auth/apiKeys.js';
import { postToInbox, serverPidFile, waitUntilTaken } from '../auth/keyInbox.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { openDatabase } from '../db/openDatabase.js';


async function embeddedServerRunning(dataDir: string): Promise<boolean> {
  try {
    const pid = Number(await fs.readFile(serverPidFile(dataDir), 'utf8'));
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function withDatabase<T>(config: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(config);
  try { return await fn(db); } finally { await db.close(); }
}

export function registerKeyCommands(program: Command, loadConfig: () => Config): void {
  const keys = program.command('keys').description('Manage API keys');

  keys.command('create').description('Create an API key for a tenant (created if new); prints the key alone')
    .requiredOption('--tenant <name>', 'tenant name')
    .action(async ({ tenant }: { tenant: string }) => {
      const config = loadConfig();
      if (!config.databaseUrl && await embeddedServerRunning(config.dataDir)) {
        const { key, hash, prefix } = generateKey();
        const file = await postToInbox(config.dataDir, { op: 'create', tenant, hash, prefix });
        if (!(await waitUntilTaken(file, 15_000))) {
          await fs.rm(file, { force: true });
          throw new Error('The running server did not take the new key within 15 s; is it healthy?');
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
    .action(async (opts: { tenant?: string; json?: boolean }) => {
      const config = loadConfig();
      if (!config.databaseUrl && await embeddedServerRunning(config.dataDir)) {
        throw new Error('The embedded database is held by the running server; stop it to list keys (or use DATABASE_URL)');
      }
      const rows = await withDatabase(config, (db) => listKeys(db, opts.tenant));
      if (opts.json) { process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`); return; }
      for (const k of rows) {
        process.stdout.write(`${k.id}  ${k.tenant.padEnd(20)}  ${k.prefix}…  ${k.createdAt.toISOString()}${k.revokedAt ? '  revoked' : ''}\n`);
      }
    });

  keys.command('revoke').description('Revoke an API key by its id (from keys list) or the key itself')
    .argument('<idOrKey>')
    .action(async (idOrKey: string) => {
      const config = loadConfig();
      if (!config.databaseUrl && await embeddedServerRunning(config.dataDir)) {
        const file = await postToInbox(config.dataDir, { op: 'revoke', idOrKeyHash: idOrKey.startsWith('bik_') ? hashKey(idOrKey) : idOrKey });
        if (!(await waitUntilTaken(file, 15_000))) throw new Error('The running server did not take the revocation within 15 s');
        console.error('Revocation sent to the running server');
        return;
      }
      const revoked = await withDatabase(config, (db) => revokeKey(db, idOrKey));
      if (!revoked) { console.error('No such live key'); process.exit(1); }
      console.error('Revoked');
    });
}
