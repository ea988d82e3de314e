/**
 * `bulk-import keys create` on the embedded database (no DATABASE_URL), where the trap is a key
 * written into a data folder that no server uses: it goes to the database of the server running on the folder,
 * warns (naming the folder and DATA_DIR) when none is running there, and refuses outright when
 * the folder holds no database at all. Whatever it says goes to stderr; stdout holds the key alone.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.js';
import { serverPidFile } from '../src/auth/keyInbox.js';
import { loadConfig } from '../src/config.js';
import { testSettings } from './support/testApp.js';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'bulk-import.js');
const KEY_ALONE = /^bik_[A-Za-z0-9_-]{20,}\n$/;

let scratch: string;
beforeAll(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-keys-'));
  await fs.chmod(scratch, 0o755); // as root, the embedded PostgreSQL runs as the user postgres, which must reach the data folders inside
});
afterAll(() => fs.rm(scratch, { recursive: true, force: true }));

/** `bulk-import keys create` in `cwd`, on the embedded database whatever this run's DATABASE_URL. */
async function keysCreate(cwd: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
  delete base.DATABASE_URL;
  delete base.DATABASE_DIRECT_URL;
  delete base.DATA_DIR;
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'keys', 'create', '--tenant', 'acme'], { cwd, env: { ...base, ...env }, timeout: 45_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function embeddedApp(dataDir: string): Promise<{ app: App; url: string }> {
  const app = await buildApp(loadConfig({}, testSettings(undefined, dataDir)));
  const url = `${(await app.start()).replace('localhost', '127.0.0.1')}/graphql`;
  return { app, url };
}

async function works(url: string, key: string): Promise<boolean> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ jobs(first: 1) { totalCount } }' }),
  });
  return res.status === 200;
}

// Servers and CLI processes start, and a cluster is initialised: slow on a loaded machine.
describe('bulk-import keys create on the embedded database', { timeout: 240_000 }, () => {
  it('refuses in a folder with no server and no database, names the folder and DATA_DIR, and creates nothing', async () => {
    // Run from another folder than the server's: the default data folder is ./data of that folder.
    const elsewhere = path.join(scratch, 'elsewhere');
    await fs.mkdir(elsewhere);
    const { code, stdout, stderr } = await keysCreate(elsewhere);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`No bulk-import server is running on the data folder ${path.join(elsewhere, 'data')}`);
    expect(stderr).toContain('set DATA_DIR to its data folder');
    expect(stderr).toContain('npx bulk-import serve');
    expect(await fs.readdir(elsewhere)).toEqual([]);
  });

  it('hands the key to the server running on the folder, silently; with the server stopped it warns, and the key works once one starts there', async () => {
    const dataDir = path.join(scratch, 'served');
    let { app, url } = await embeddedApp(dataDir);
    try {
      const running = await keysCreate(scratch, { DATA_DIR: dataDir });
      expect(running).toEqual({ code: 0, stdout: expect.stringMatching(KEY_ALONE), stderr: '' });
      expect(await works(url, running.stdout.trim())).toBe(true);
    } finally {
      await app.stop();
    }
    await expect(fs.access(serverPidFile(dataDir))).rejects.toThrow();

    const stopped = await keysCreate(scratch, { DATA_DIR: dataDir });
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toMatch(KEY_ALONE);
    expect(stopped.stderr).toContain(`Warning: no bulk-import server is running on the data folder ${dataDir}.`);
    expect(stopped.stderr).toContain('set DATA_DIR to its data folder');

    ({ app, url } = await embeddedApp(dataDir));
    try {
      expect(await works(url, stopped.stdout.trim())).toBe(true);
    } finally {
      await app.stop();
    }
  });
});
