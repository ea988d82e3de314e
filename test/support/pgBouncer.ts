/**
 * A PgBouncer of a test's own, in transaction mode (scripts/pgbouncer.sh on a free port, in a
 * folder of its own), in front of the Postgres the run uses: for a test that must run behind a
 * pooler whatever pass of the suite it is in. Outside CI, without pgbouncer installed, the test
 * is skipped with the reason printed; in CI it is an error.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, REPO_ROOT } from '../../bench/serverProcess.js';
import { directServerUrl, urlOfDatabase } from './database.js';

const run = promisify(execFile);
const SCRIPT = path.join(REPO_ROOT, 'scripts/pgbouncer.sh');

export function requirePgBouncer(what: string): boolean {
  if (existsSync('/usr/sbin/pgbouncer') || existsSync('/usr/bin/pgbouncer')) return true;
  if (process.env.CI) throw new Error(`${what} needs pgbouncer (CI must never skip it): apt-get install -y pgbouncer`);
  console.warn(`skipped: ${what} needs pgbouncer (apt-get install -y pgbouncer)`);
  return false;
}

export interface PgBouncer {
  /** The URL of database `name` through the pooler. */
  urlOf(name: string): string;
  stop(): Promise<void>;
}

export async function startPgBouncer(): Promise<PgBouncer> {
  const target = new URL(directServerUrl()!);
  const port = await freePort();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-pgbouncer-'));
  const env = {
    ...process.env, PGBOUNCER_PORT: String(port), PGBOUNCER_DIR: dir,
    PGBOUNCER_TARGET_HOST: target.hostname, PGBOUNCER_TARGET_PORT: target.port || '5432', PGBOUNCER_TARGET_USER: decodeURIComponent(target.username || 'postgres'),
  };
  await run(SCRIPT, ['start'], { env, timeout: 30_000 });
  const pooled = new URL(target);
  pooled.hostname = '127.0.0.1';
  pooled.port = String(port);
  return {
    urlOf: (name) => urlOfDatabase(pooled.toString(), name),
    stop: async () => {
      await run(SCRIPT, ['stop'], { env, timeout: 30_000 }).catch(() => {});
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
