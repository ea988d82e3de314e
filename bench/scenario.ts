/**
 * What the bench's scenarios (fairness.ts, bigFile.ts) share: a work folder, a fresh database and
 * a fresh server on it (as `npm start` runs it), all removed afterwards, also on error; and an
 * import sent by curl, followed to its end and counted in `events`.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { curlUpload, followJob, jobUuid } from './client.js';
import { connect, countEventsOfJob, createBenchDatabase, type BenchDatabase, type Sql } from './database.js';
import { buildServer, startServer, type ServerProcess } from './serverProcess.js';

export interface ScenarioRun { workDir: string; db: BenchDatabase; server: ServerProcess; env: NodeJS.ProcessEnv; pg: Sql }

/**
 * Makes a work folder, lets `prepare` write the files into it, then starts a server on a new
 * database and runs `body`. `serverLog` keeps the server's log at info.
 */
export async function runScenario<T>(opts: {
  name: string; serverLog?: string; log: (message: string) => void;
  prepare: (workDir: string) => Promise<void>;
}, body: (run: ScenarioRun) => Promise<T>): Promise<T> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) throw new Error('DATABASE_URL is not set: the scenario needs a Postgres server to create its database on');
  const workDir = await fs.mkdtemp(path.join(os.tmpdir(), `bulk-import-${opts.name}-`));
  let server: ServerProcess | undefined;
  let pg: Sql | undefined;
  const db = await createBenchDatabase(adminUrl);
  try {
    await opts.prepare(workDir);
    const dataDir = path.join(workDir, 'data');
    await fs.mkdir(dataDir);
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: opts.serverLog ? 'info' : 'warn', DATABASE_URL: db.url, DATA_DIR: dataDir };
    opts.log('building and starting the server (node dist/main.js)');
    await buildServer();
    server = await startServer({ env, label: 'server', logFile: opts.serverLog });
    pg = connect(db.url);
    return await body({ workDir, db, server, env, pg });
  } finally {
    await pg?.end({ timeout: 5 });
    await server?.stop();
    await db.drop().catch((err) => console.error(`cleanup: could not drop ${db.name}: ${err.message}`));
    await fs.rm(workDir, { recursive: true, force: true });
  }
}

export interface CurlImport { tenant: string; jobId: string; rows: number; seconds: number; rowsPerSec: number; uploadSeconds: number; answeredAt: number }

/** Uploads `file` as `key`'s tenant with curl, follows the job to its end and counts its rows in `events`. */
export async function importByCurl(run: ScenarioRun, opts: {
  key: string; tenant: string; file: string; rows: number; timeoutMs: number; again: boolean;
}): Promise<CurlImport> {
  const started = performance.now();
  const upload = await curlUpload({ url: run.server.url, key: opts.key, file: opts.file, kind: 'EVENTS', allowDuplicateFile: opts.again });
  const answeredAt = performance.now();
  const { final } = await followJob({ wsUrl: run.server.wsUrl, key: opts.key, jobId: upload.jobId, timeoutMs: opts.timeoutMs });
  const seconds = (performance.now() - started) / 1000;
  const counted = await countEventsOfJob(run.pg, jobUuid(upload.jobId));
  if (final.status !== 'COMPLETED' || counted !== opts.rows) {
    throw new Error(`${opts.tenant}'s import ended ${final.status} with ${counted} rows in events, ${opts.rows} expected`);
  }
  return { tenant: opts.tenant, jobId: jobUuid(upload.jobId), rows: opts.rows, seconds, rowsPerSec: opts.rows / seconds, uploadSeconds: upload.seconds, answeredAt };
}

/** A positive whole number from a command-line option. */
export function wholeNumber(name: string, raw: string): number {
  const v = Number(raw.replace(/[_,]/g, ''));
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive whole number, got "${raw}"`);
  return v;
}
