import net from 'node:net';
import { once } from 'node:events';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { copyStatement, type Database, type Orm, type Transaction } from './database.js';
import { schema } from './schema.js';
import { MIGRATIONS_FOLDER } from './migrations.js';

/** Arbitrary constant: every instance takes this advisory lock while it migrates. */
const MIGRATION_LOCK_ID = 7_311_001;

/**
 * postgres.js leaves Nagle's algorithm on. After a large COPY write, the small CopyDone and
 * COMMIT messages then wait for the server's delayed ACK (up to 40 ms on Linux): measured here,
 * that cost 35 ms per batch, a third of the import time. So connections are opened with noDelay.
 */
async function noDelaySocket(options: { host: string[]; port: number[]; path?: string }): Promise<net.Socket> {
  const socket = options.path
    ? net.connect({ path: options.path })
    : net.connect({ host: options.host[0], port: options.port[0], noDelay: true });
  await once(socket, 'connect');
  return socket;
}

export async function openPostgres(url: string): Promise<Database> {
  const sql = postgres(url, {
    max: 10,
    ...({ socket: noDelaySocket } as object), // an option postgres.js supports but does not type
    onnotice: () => {},
    // Timestamps without a zone in imported files mean UTC (SPEC), whatever the server's default.
    connection: { TimeZone: 'UTC', application_name: 'bulk-import' },
    // int8 (counts, offsets) as JS numbers: every value we store fits in 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
  await runMigrations(url);
  const orm = drizzle(sql, { schema }) as unknown as Orm;

  const wrap = (exec: postgres.Sql | postgres.TransactionSql): Transaction => ({
    query: async <T>(text: string, params: unknown[] = []) =>
      (await exec.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[],
    copyCsv: async (table, columns, csv) => {
      const writable = await exec.unsafe(copyStatement(table, columns, 'STDIN')).writable();
      await new Promise<void>((resolve, reject) => {
        writable.on('error', reject);
        writable.on('finish', resolve);
        writable.end(csv);
      });
    },
  });
  const root = wrap(sql);

  return {
    driver: 'postgres',
    orm,
    query: root.query,
    transaction: (fn) => sql.begin((tx) => fn(wrap(tx))) as Promise<never>,
    notify: async (channel, payload) => { await sql.notify(channel, payload); },
    listen: async (channel, onPayload) => {
      const { unlisten } = await sql.listen(channel, onPayload);
      return unlisten;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

/** Migrations run on one dedicated connection under an advisory lock, so instances that start together take turns. */
async function runMigrations(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_FOLDER });
    await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
