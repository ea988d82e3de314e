/**
 * The embedded default (no DATABASE_URL) on the embedded PostgreSQL, whatever DATABASE_URL this
 * run has: the server runs a real PostgreSQL in DATA_DIR/postgres, the CLI manages keys beside the
 * running server, and no PostgreSQL outlives the server, however it ends (SIGTERM, SIGKILL).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterFolder } from '../src/db/embeddedCluster.js';
import { startServerChild, stopAllServerChildren } from './support/serverProcess.js';
import { waitFor } from './support/importIntegrity.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { UploadImportDocument, JobProgressDocument } from '../src/generated/gql/graphql.js';
import { GraphQLTestClient } from './support/client.js';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'bulk-import.js');

let scratch: string;
beforeAll(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-embedded-'));
  await fs.chmod(scratch, 0o755); // as root, the embedded PostgreSQL runs as the user postgres, which must reach the data folders inside
});
afterAll(async () => {
  await stopAllServerChildren();
  await fs.rm(scratch, { recursive: true, force: true });
});

const embeddedEnv = (dataDir: string) => ({ DATABASE_URL: undefined, DATABASE_DIRECT_URL: undefined, DATA_DIR: dataDir, EMBEDDED_DATABASE: undefined });

/** `bulk-import keys ...` on the embedded database of `dataDir`. */
async function keys(dataDir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent', DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  delete env.DATABASE_DIRECT_URL;
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, 'keys', ...args], { env, timeout: 45_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The PostgreSQL processes running on `dataDir`'s cluster, by their command lines. */
async function postgresProcessesOn(dataDir: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await fs.readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(clusterFolder(dataDir)) && cmdline.split('\0')[0].endsWith('/postgres')) found.push(Number(name));
  }
  return found;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}

const graphql = async (url: string, key: string) => (await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body: JSON.stringify({ query: '{ jobs(first: 1) { totalCount } }' }),
})).status;

// Each test starts servers (tsx) and CLI processes, and initialises a cluster: slow on a loaded machine.
describe.runIf(process.platform === 'linux')('the embedded PostgreSQL', { timeout: 240_000 }, () => {
  it('serves imports; the CLI creates, lists and revokes keys while the server runs; SIGTERM leaves no PostgreSQL behind', async () => {
    const dataDir = path.join(scratch, 'served');
    const server = await startServerChild({ env: embeddedEnv(dataDir), label: 'embedded' });
    try {
      // The log line may reach us a moment after the server answers its health check.
      const listening = await waitFor('the server to log that it listens', async () => server.logs().find((l) => l.msg === 'bulk-import listening'), { timeoutMs: 10_000, intervalMs: 50 });
      expect(listening).toMatchObject({ database: 'postgres' });
      expect((await fs.stat(path.join(clusterFolder(dataDir), 'PG_VERSION'))).isFile()).toBe(true);
      expect(await postgresProcessesOn(dataDir)).not.toEqual([]);

      const created = await keys(dataDir, 'create', '--tenant', 'acme');
      expect(created).toMatchObject({ code: 0, stderr: '' });
      const key = created.stdout.trim();
      expect(await graphql(server.url, key)).toBe(200);

      const listed = await keys(dataDir, 'list', '--json');
      expect(listed.code).toBe(0);
      const rows = JSON.parse(listed.stdout) as { id: string; tenant: string; prefix: string; revokedAt: string | null }[];
      expect(rows).toEqual([expect.objectContaining({ tenant: 'acme', revokedAt: null })]);
      expect(key.startsWith(rows[0].prefix)).toBe(true);
      await expect(fs.access(path.join(dataDir, 'key-inbox'))).rejects.toThrow();

      const client = new GraphQLTestClient(server.url, server.wsUrl, key);
      const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'events.csv', content: eventsCsv(manyEvents(300)) });
      const id = body.data!.uploadImport.job!.id;
      const events = await client.subscribe(JobProgressDocument, { id });
      expect(events.at(-1)!.jobProgress).toMatchObject({ status: 'COMPLETED', rowsImported: 300 });

      const revoked = await keys(dataDir, 'revoke', rows[0].id);
      expect(revoked.code).toBe(0);
      expect(await graphql(server.url, key)).toBe(401);
    } finally {
      await server.stop();
    }
    expect(await until(async () => (await postgresProcessesOn(dataDir)).length === 0, 10_000)).toBe(true);
  });

  it('takes its PostgreSQL down with it when killed (SIGKILL), and starts again on the same folder', async () => {
    const dataDir = path.join(scratch, 'killed');
    const first = await startServerChild({ env: embeddedEnv(dataDir), label: 'killed' });
    const key = (await keys(dataDir, 'create', '--tenant', 'acme')).stdout.trim();
    expect(await postgresProcessesOn(dataDir)).not.toEqual([]);
    await first.kill();
    expect(await until(async () => (await postgresProcessesOn(dataDir)).length === 0, 15_000)).toBe(true);

    const second = await startServerChild({ env: embeddedEnv(dataDir), label: 'restarted' });
    try {
      expect(await graphql(second.url, key)).toBe(200);
    } finally {
      await second.stop();
    }
  });

  it('with no server running, the CLI starts the cluster for the moment it needs and leaves nothing running', async () => {
    const dataDir = path.join(scratch, 'stopped');
    const server = await startServerChild({ env: embeddedEnv(dataDir), label: 'stopped' });
    await server.stop();
    const created = await keys(dataDir, 'create', '--tenant', 'acme');
    expect(created.code).toBe(0);
    expect(created.stderr).toContain(`Warning: no bulk-import server is running on the data folder ${dataDir}.`);
    const listed = await keys(dataDir, 'list');
    expect(listed.stdout).toContain('acme');
    expect(await postgresProcessesOn(dataDir)).toEqual([]);
  });
});
