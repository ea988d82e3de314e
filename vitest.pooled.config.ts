/**
 * `npm run test:pooled`: the suite's database part once more, with DATABASE_URL through a
 * transaction-mode pooler and DATABASE_DIRECT_URL straight to Postgres (docs/operations.md,
 * "Behind a connection pooler"). Left out, with the reason:
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

const NOT_POOLED = [
  // Each core test works in a schema of its own, chosen by search_path: a session setting.
  'test/core/**',
  // Browser tests: the console and GraphiQL pages, whose database part the API tests cover.
  'test/*.e2e.test.ts',
  // Runs behind a PgBouncer of its own in either pass.
  'test/fleet.test.ts',
  // The embedded PGlite, whatever DATABASE_URL says.
  'test/pglite.smoke.test.ts',
  'test/keysCli.test.ts',
  // The embedded PostgreSQL the service runs itself, whatever DATABASE_URL says.
  'test/embeddedPostgres.test.ts',
  'test/embeddedFallback.test.ts',
  // No database at all.
  'test/architecture.test.ts',
  'test/bytePath.test.ts',
  'test/parsedBatches.test.ts',
  'test/readers.fuzz.test.ts',
  'test/schema.test.ts',
];

// Spread, not mergeConfig: that would append to the suite's exclude list, which leaves out the one file only this pass runs.
export default defineConfig({
  ...base,
  test: { ...base.test, exclude: ['**/node_modules/**', ...NOT_POOLED] },
});
