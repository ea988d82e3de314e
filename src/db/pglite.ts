import fs from 'node:fs/promises';
import { PGlite, type Transaction as PgliteTx } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { copyStatement, pgliteFolder, type Database, type Orm, type Transaction } from './database.js';
import { schema } from './schema.js';
import { MIGRATIONS_FOLDER } from './migrations.js';

/**
 * The embedded default. PGlite is one process's database: only the server opens the data folder
 * (the CLI hands new API keys to a running server through the key inbox, see auth/keyInbox.ts).
 */
export async function openPglite(dataDir: string): Promise<Database> {
  const dir = pgliteFolder(dataDir);
  await fs.mkdir(dir, { recursive: true });
  const pg = await PGlite.create(dir);
  await pg.exec(`SET TIME ZONE 'UTC'`);
  const orm = drizzle(pg, { schema }) as unknown as Orm;
  await migrate(drizzle(pg), { migrationsFolder: MIGRATIONS_FOLDER });

  const wrap = (exec: PGlite | PgliteTx): Transaction => ({
    query: async <T>(text: string, params: unknown[] = []) => (await exec.query<T>(text, params)).rows,
    copy: async (table, columns, data, format) => {
      await exec.query(copyStatement(table, columns, `'/dev/blob'`, format), [], { blob: new Blob([data as BlobPart]) });
    },
  });
  const root = wrap(pg);

  return {
    driver: 'pglite',
    orm,
    query: root.query,
    transaction: (fn) => pg.transaction((tx) => fn(wrap(tx))),
    notify: async (channel, payload) => { await pg.query('select pg_notify($1, $2)', [channel, payload]); },
    listen: async (channel, onPayload) => pg.listen(channel, onPayload),
    close: () => pg.close(),
  };
}
