/**
 * The real service, like testApp.ts, for the tests that need more control over it: a logger of
 * their own (buildApp's `log` option), and a restart on the same database and data folder with
 * other settings (e.g. finish some jobs with workers, then come back without workers so that new
 * jobs stay QUEUED).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { buildApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createTestDatabase } from './database.js';
import { testSettings } from './testApp.js';

export interface OwnApp {
  readonly app: App;
  /** http://127.0.0.1:<port>/graphql (the port changes at each restart). */
  readonly url: string;
  readonly wsUrl: string;
  readonly dataDir: string;
  /** Stops the app and builds a new one on the same database and folder, with these settings on top of the first ones. */
  restart(overrides?: Partial<Config>): Promise<void>;
  close(): Promise<void>;
}

export async function startOwnApp(overrides: Partial<Config> = {}, opts: { log?: Logger } = {}): Promise<OwnApp> {
  const database = await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-own-'));
  const base: Partial<Config> = { ...testSettings(database.url, dataDir, database.directUrl), ...overrides };
  let app!: App;
  let url = '';
  const boot = async (more: Partial<Config>) => {
    app = await buildApp(loadConfig({}, { ...base, ...more }), { log: opts.log });
    url = `${await app.start()}/graphql`.replace('localhost', '127.0.0.1');
  };
  await boot({});
  let stopped = false;
  return {
    get app() { return app; },
    get url() { return url; },
    get wsUrl() { return url.replace(/^http/, 'ws'); },
    dataDir,
    restart: async (more = {}) => {
      await app.stop();
      await boot(more);
    },
    close: async () => {
      if (stopped) return;
      stopped = true;
      await app.stop();
      await database.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The app's own logger (createLogger: same redaction, same serializers) at `level`, writing to
 * memory instead of stdout, so a test can read everything the service logged.
 */
export function memoryLogger(level = 'debug'): { log: Logger; text(): string } {
  const chunks: string[] = [];
  const log = createLogger(level);
  (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = {
    write: (line: string) => { chunks.push(line); },
  };
  return { log, text: () => chunks.join('') };
}
