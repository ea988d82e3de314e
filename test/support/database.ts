/**
 * A database of its own for each test file: a fresh database on the Postgres in DATABASE_URL, or,
 * with DATABASE_URL unset, an embedded PGlite in a temporary folder (buildApp opens it).
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export const realPostgres = Boolean(process.env.DATABASE_URL);

export interface TestDatabase { url: string | undefined; drop(): Promise<void> }

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) return { url: undefined, drop: async () => {} };
  const name = `bulk_import_test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const again = postgres(adminUrl, { max: 1, onnotice: () => {} });
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
