/**
 * The main thread's side of the hash thread (hashThread.ts): the SHA-256 of a file, computed while
 * the file is being written and off the event loop. Hashed on the main thread, a 517 MB upload
 * cost that thread ~0.4 s of CPU and the upload as much time (bench, NDJSON uploads: 1.3-1.7 s
 * hashed there, 1.0-1.1 s not hashed at all); the thread reads back from the page cache what has
 * been written, and keeps up with it.
 */
import type { Worker } from 'node:worker_threads';
import type { HashAnswer, HashRequest } from './hashThread.js';
import { startThread } from './startThread.js';

interface Waiter { resolve(sha256: string): void; reject(err: Error): void }

/**
 * The process's one hash thread, started at the first hash and again after it died. It stays
 * between uploads (~12 MiB resident): ended after each upload and started anew for the next, the
 * server's peak memory grew import after import (218, 247, 278, 303 MiB over four).
 */
let current: { worker: Worker; alive: boolean } | null = null;
let nextId = 1;
const waiting = new Map<number, Waiter>();

function hashThread(): { worker: Worker; alive: boolean } {
  if (current?.alive) return current;
  const thread = { worker: startThread('./hashThread', import.meta.url), alive: true };
  thread.worker.on('message', (answer: HashAnswer) => {
    const waiter = waiting.get(answer.id);
    waiting.delete(answer.id);
    if ('error' in answer) waiter?.reject(new Error(`hashing the upload: ${answer.error}`));
    else waiter?.resolve(answer.sha256);
  });
  const died = (err: Error) => {
    if (!thread.alive) return;
    thread.alive = false;
    for (const waiter of waiting.values()) waiter.reject(err);
    waiting.clear();
  };
  thread.worker.on('error', died);
  thread.worker.on('exit', (code) => died(new Error(`the hash thread exited with code ${code}`)));
  // Idle between uploads, it must not keep the process from exiting. (Unref'd after the listeners:
  // adding one refs a worker again.) An upload under way keeps the process alive by its socket.
  thread.worker.unref();
  current = thread;
  return thread;
}

export interface FileHash {
  /** The file now holds at least `bytes` bytes, which the thread may hash. */
  written(bytes: number): void;
  /** The SHA-256 (hex) of the whole file, once the file is complete at `size` bytes. */
  digest(size: number): Promise<string>;
  /** The file was given up: its hash is forgotten. */
  drop(): void;
}

export function hashWhileWritten(file: string): FileHash {
  const id = nextId++;
  const thread = hashThread();
  const send = (request: HashRequest) => { if (thread.alive) thread.worker.postMessage(request); };
  return {
    written: (bytes) => send({ id, file, upTo: bytes, end: false }),
    digest: (size) => new Promise<string>((resolve, reject) => {
      if (!thread.alive) { reject(new Error('the hash thread died while the upload was written')); return; }
      waiting.set(id, { resolve, reject });
      send({ id, file, upTo: size, end: true });
    }),
    drop: () => send({ id, drop: true }),
  };
}
