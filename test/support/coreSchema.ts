/**
 * A Postgres schema of its own for each core test (test/core/), as pg-boss's tests have: the
 * service's migrations run into `core_<random>`, the test works on the service's Database opened
 * on that schema, and the schema is dropped after a passing test but kept after a failing one,
 * with its name printed, so that a developer can look at what the test left.
 *
 * The schemas live in one database, bulk_import_core_tests, on the server in DATABASE_URL, reached
 * through DATABASE_DIRECT_URL when that is set: a schema per test is chosen by search_path, a
 * session setting that a transaction-mode pooler cannot carry (so `npm run test:pooled` leaves
 * test/core/ out).
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { beforeEach } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { MIGRATIONS_FOLDER } from '../../src/db/migrations.js';
import { connectPostgres } from '../../src/db/postgres.js';
import { directServerUrl, urlOfDatabase } from './database.js';

export const CORE_DATABASE = 'bulk_import_core_tests';

export interface CoreSchema {
  name: string;
  /** The service's Database, on this schema. */
  db: Database;
  /** The application_name of every session this schema's pools open: to find them in pg_stat_activity. */
  applicationName: string;
  /** Another pool on this schema, as a second instance of the service would have; closed with the schema. */
  connect(): Database;
  /** A plain postgres.js client on this schema, for what the service never does (triggers, sessions); closed with the schema. */
  admin: postgres.Sql;
}

/**
 * Gives each test of the enclosing describe block its schema: call it at the top of the block,
 * and read the current test's schema with the function it returns.
 */
export function useCoreSchema(): () => CoreSchema {
  let current: CoreSchema | undefined;
  beforeEach(async (ctx) => {
    const { schema, dispose } = await createCoreSchema();
    current = schema;
    ctx.onTestFinished(async () => {
      current = undefined;
      await dispose(ctx.task.result?.state === 'fail' ? ctx.task.name : null);
    });
  });
  return () => {
    if (!current) throw new Error('no core schema: useCoreSchema() gives one only inside a test');
    return current;
  };
}

/** `dispose` closes the schema's pools and drops it, unless given the name of the test that failed in it. */
async function createCoreSchema(): Promise<{ schema: CoreSchema; dispose: (failedTest: string | null) => Promise<void> }> {
  const url = await coreDatabaseUrl();
  const name = `core_${randomBytes(5).toString('hex')}`;
  const applicationName = `bulk-import-test-${name}`;
  const admin = postgres(url, { max: 1, onnotice: () => {}, connection: {
    search_path: name, application_name: applicationName,
    // A throwaway schema need not wait for its DDL to reach the disk.
    synchronous_commit: 'off',
  } });
  try {
    await migrateInto(admin, name);
  } catch (err) {
    await admin.end({ timeout: 5 });
    throw err;
  }
  const pools: Database[] = [];
  const connect = () => {
    const db = connectPostgres(url, { schema: name, applicationName });
    pools.push(db);
    return db;
  };
  const schema: CoreSchema = { name, db: connect(), applicationName, connect, admin };
  return {
    schema,
    dispose: async (failedTest) => {
      await Promise.allSettled(pools.map((db) => db.close()));
      try {
        if (failedTest !== null) {
          console.warn(`"${failedTest}" failed; its schema is kept: PGOPTIONS='-c search_path=${name}' psql '${withoutPassword(url)}'`
            + ` (drop it with: drop schema ${name} cascade)`);
        } else {
          await admin.unsafe(`set lock_timeout = '5s'`);
          await admin.unsafe(`drop schema "${name}" cascade`);
        }
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  };
}

/**
 * The service's own migration files, run into `schema`. drizzle-kit names the public schema in
 * the foreign keys it writes ("public"."tenants"), so those names are pointed at the test's schema;
 * everything else the files create lands there through the search_path.
 */
async function migrateInto(admin: postgres.Sql, schema: string): Promise<void> {
  const statements = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).flatMap((m) => m.sql)
    .filter((statement) => statement.trim()).map((statement) => statement.replaceAll('"public".', `"${schema}".`));
  // One round trip: without parameters, postgres.js sends the whole text as one simple query.
  await admin.begin((tx) => tx.unsafe([`create schema "${schema}"`, ...statements].join(';\n')));
}

function withoutPassword(url: string): string {
  const shown = new URL(url);
  shown.password = '';
  return shown.toString();
}

let coreDatabase: Promise<string> | undefined;

/** bulk_import_core_tests' URL, creating the database the first time (test files in other processes may race to). */
function coreDatabaseUrl(): Promise<string> {
  coreDatabase ??= (async () => {
    const serverUrl = directServerUrl();
    if (!serverUrl) throw new Error('the core tests need a real Postgres: set DATABASE_URL');
    const server = postgres(serverUrl, { max: 1, onnotice: () => {} });
    try {
      const [found] = await server`select 1 from pg_database where datname = ${CORE_DATABASE}`;
      if (!found) await server.unsafe(`create database ${CORE_DATABASE}`).catch((err) => { if (!createdMeanwhile(err)) throw err; });
    } finally {
      await server.end({ timeout: 5 });
    }
    return urlOfDatabase(serverUrl, CORE_DATABASE);
  })();
  return coreDatabase;
}

/** Another process created the database between the look and the create: duplicate_database, or the catalog's unique_violation. */
const createdMeanwhile = (err: unknown) => ['42P04', '23505'].includes((err as { code?: string }).code ?? '');
