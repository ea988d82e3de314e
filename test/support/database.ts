/**
 * A database of its own for each test file: a fresh database on the Postgres in DATABASE_URL, or,
 * with DATABASE_URL unset, an embedded PGlite in a temporary folder (buildApp opens it).
 * With DATABASE_DIRECT_URL too (DATABASE_URL then goes through a transaction-mode pooler, as in
 * `npm run test:pooled`), each test database has both URLs, and servers get both.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export const realPostgres = Boolean(process.env.DATABASE_URL);

export interface TestDatabase {
  url: string | undefined;
  /** The direct (session) URL of the same database when `url` goes through a pooler; else undefined. */
  directUrl: string | undefined;
  drop(): Promise<void>;
}

/** DATABASE_URL, or DATABASE_DIRECT_URL when set: where sessions and dropping databases belong. */
export const directServerUrl = (): string | undefined => process.env.DATABASE_DIRECT_URL || process.env.DATABASE_URL;

/** `serverUrl` (a URL of the server in DATABASE_URL or DATABASE_DIRECT_URL) pointed at database `name`. */
export function urlOfDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Where a test reads the database itself (pg_stat_activity, its own checks): a session, never the pooler. */
export const sessionUrl = (db: TestDatabase): string => (db.directUrl ?? db.url)!;

/** The environment a server child needs for `db`: its URL, and its direct URL when pooled. */
export function databaseEnv(db: TestDatabase): Record<string, string> {
  return { ...(db.url ? { DATABASE_URL: db.url } : {}), ...(db.directUrl ? { DATABASE_DIRECT_URL: db.directUrl } : {}) };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) return { url: undefined, directUrl: undefined, drop: async () => {} };
  const pooledDirect = process.env.DATABASE_DIRECT_URL || undefined;
  const name = `bulk_import_test_${randomBytes(6).toString('hex')}`;
  // One statement outside any transaction: fine through a pooler too.
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {}, prepare: !pooledDirect });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  return {
    url: urlOfDatabase(adminUrl, name),
    directUrl: pooledDirect && urlOfDatabase(pooledDirect, name),
    drop: async () => {
      // On a session of its own: `with (force)` ends the pooler's server connections to it too.
      const again = postgres(directServerUrl()!, { max: 1, onnotice: () => {} });
      await again.unsafe(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}

/**
 * For tests that need a real Postgres server (several connections, pg_stat_activity...). Without
 * DATABASE_URL they are skipped with a printed reason; in CI (CI=true) that would hide them, so
 * there it is an error instead.
 */
export function requirePostgres(what: string): boolean {
  if (realPostgres) return true;
  if (process.env.CI) throw new Error(`${what} needs a real Postgres: set DATABASE_URL (CI must never skip it)`);
  console.warn(`skipped: ${what} needs a real Postgres server; set DATABASE_URL to run it`);
  return false;
}
