import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // One graphql for everyone: without this, src/ gets graphql's ES module build and Yoga and
    // Pothos its CommonJS build, and Yoga masks our own GraphQLErrors as unexpected ones.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Needs a pooler in front of Postgres: `npm run test:pooled` (vitest.pooled.config.ts) runs it.
    exclude: ['**/node_modules/**', 'test/pooledPostgres.test.ts'],
    // One real S3 store (radosgw) for the run, for the S3 spool's tests.
    globalSetup: ['test/support/radosgwSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: two test files at a time, each with its own database and server.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
