/**
 * How `bulk-import keys create` gets a key into the embedded database while the server holds it.
 * PGlite is one process's database, so the CLI never opens it under a running server: it writes
 * the new key's hash (never the key), or a revocation, to DATA_DIR/key-inbox/, the server stores it and deletes the
 * file, and the CLI prints the key once the file is gone, i.e. once the key works.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/database.js';
import { revokeKey, storeKey } from './apiKeys.js';

export type InboxEntry =
  | { op: 'create'; tenant: string; hash: string; prefix: string }
  | { op: 'revoke'; idOrKeyHash: string };

export const inboxDir = (dataDir: string) => path.join(dataDir, 'key-inbox');

/** The server writes its pid here while it holds the embedded database. */
export const serverPidFile = (dataDir: string) => path.join(dataDir, 'server.pid');

/** Whether a live process holds the embedded database in `dataDir`, going by its pid file. */
export async function embeddedServerRunning(dataDir: string): Promise<boolean> {
  let pid: number;
  try {
    pid = Number(await fs.readFile(serverPidFile(dataDir), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user; opening the folder beside it would
    // be two processes on one PGlite database.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function postToInbox(dataDir: string, entry: InboxEntry): Promise<string> {
  const dir = inboxDir(dataDir);
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${randomUUID()}.json`);
  await fs.writeFile(`${file}.tmp`, JSON.stringify(entry), { mode: 0o600 });
  await fs.rename(`${file}.tmp`, file); // atomic: the server never reads half a file
  return file;
}

/** Stores every waiting entry; called by the server on start and then every `intervalMs`. */
export async function drainInbox(db: Database, dataDir: string): Promise<number> {
  const dir = inboxDir(dataDir);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    const entry = JSON.parse(await fs.readFile(file, 'utf8')) as InboxEntry;
    if (entry.op === 'create') await storeKey(db, entry.tenant, entry.hash, entry.prefix);
    else await revokeKey(db, entry.idOrKeyHash);
    await fs.rm(file);
  }
  return names.length;
}

export function watchInbox(db: Database, dataDir: string, intervalMs = 300, onError: (err: unknown) => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    drainInbox(db, dataDir).catch(onError).finally(() => { running = false; });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

export async function waitUntilTaken(file: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try { await fs.access(file); } catch { return true; }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
