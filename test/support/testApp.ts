/** Starts the real service (HTTP + WebSocket + workers) on a free port against the file's own database. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { createKey } from '../../src/auth/apiKeys.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createTestDatabase } from './database.js';
import { GraphQLTestClient } from './client.js';

export interface TestApp {
  app: App;
  url: string;
  wsUrl: string;
  dataDir: string;
  /** The app's own database (a fresh database on the DATABASE_URL server), or undefined on PGlite. */
  databaseUrl: string | undefined;
  /** Its direct (session) URL, when databaseUrl goes through a pooler (npm run test:pooled). */
  databaseDirectUrl: string | undefined;
  /** A client holding a new API key for `tenant` (the tenant is created on first use). */
  clientFor(tenant: string): Promise<GraphQLTestClient>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Embedded PGlite under the app's data folder, whatever DATABASE_URL says. */
  pglite?: boolean;
}

/** The settings every test app starts from: any free port, its own folder, quiet logs, quick polls. */
export function testSettings(databaseUrl: string | undefined, dataDir: string, databaseDirectUrl?: string): Partial<Config> {
  return {
    port: 0,
    host: '127.0.0.1',
    databaseUrl,
    databaseDirectUrl,
    dataDir,
    spoolDir: path.join(dataDir, 'spool'),
    logLevel: process.env.TEST_LOG_LEVEL ?? 'silent',
    pollIntervalMs: 200,
  };
}

export async function startTestApp(overrides: Partial<Config> = {}, opts: TestAppOptions = {}): Promise<TestApp> {
  const database = opts.pglite ? { url: undefined, directUrl: undefined, drop: async () => {} } : await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-test-'));
  // Without DATABASE_URL the suite runs on PGlite, quick to open in every file; the embedded
  // PostgreSQL has tests of its own (embeddedPostgres.test.ts, keysCli.test.ts).
  const config = loadConfig({}, { ...testSettings(database.url, dataDir, database.directUrl), embeddedDatabase: 'pglite', ...overrides });
  const app = await buildApp(config);
  const base = await app.start();
  const url = `${base}/graphql`;
  const wsUrl = url.replace(/^http/, 'ws');
  return {
    app, url, wsUrl, dataDir,
    databaseUrl: database.url,
    databaseDirectUrl: database.directUrl,
    clientFor: async (tenant) => new GraphQLTestClient(url, wsUrl, await createKey(app.db, tenant)),
    close: async () => {
      await app.stop();
      await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
