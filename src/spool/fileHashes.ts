/**
 * The main thread's side of the hash thread (hashThread.ts): the SHA-256 of a file, computed while
 * the file is being written and off the event loop: hashed on the main thread, it slowed the
 * upload by as much CPU time as the hash took there (docs/performance.md). The thread reads back
 * from the page cache what has been written, and keeps up with it.
 */
import type { Worker } from 'node:worker_threads';
import type { HashAnswer, HashRequest } from './hashThread.js';
import { startThread } from '../threads/startThread.js';
import type { Utf8Break } from './utf8Check.js';

/** A written file's SHA-256 (hex), and where it first is not UTF-8 (null: it is all UTF-8). */
export interface FileDigest { sha256: string; notUtf8: Utf8Break | null }

interface Waiter { resolve(digest: FileDigest): void; reject(err: Error): void }
interface HashThread { worker: Worker; alive: boolean; hashing: number; idle: NodeJS.Timeout | null }

/**
 * A hash thread left without uploads ends after this long: it holds resident memory of its own
 * (docs/performance.md), and an import's peak memory comes after its upload. Uploads in a row
 * share one thread.
 */
const IDLE_MS = 1000;

/** The process's hash thread while uploads are hashed, started again for later ones. */
let current: HashThread | null = null;
let nextId = 1;
const waiting = new Map<number, Waiter>();

function hashThread(): HashThread {
  if (current?.alive) return current;
  const thread: HashThread = { worker: startThread('./hashThread', import.meta.url), alive: true, hashing: 0, idle: null };
  thread.worker.on('message', (answer: HashAnswer) => {
    const waiter = waiting.get(answer.id);
    waiting.delete(answer.id);
    if ('error' in answer) waiter?.reject(new Error(`hashing the upload: ${answer.error}`));
    else waiter?.resolve({ sha256: answer.sha256, notUtf8: answer.notUtf8 });
  });
  const died = (err: Error) => {
    if (!thread.alive) return;
    thread.alive = false;
    for (const waiter of waiting.values()) waiter.reject(err);
    waiting.clear();
  };
  thread.worker.on('error', died);
  thread.worker.on('exit', (code) => died(new Error(`the hash thread exited with code ${code}`)));
  current = thread;
  return thread;
}

/** One hash fewer under way; the last one leaves the thread to end if no other comes soon. */
function hashEnded(thread: HashThread): void {
  if (--thread.hashing > 0 || !thread.alive) return;
  thread.worker.unref(); // idle, it keeps the process alive no longer
  thread.idle = setTimeout(() => {
    if (thread.hashing > 0 || !thread.alive) return;
    thread.alive = false;
    if (current === thread) current = null;
    void thread.worker.terminate();
  }, IDLE_MS);
  thread.idle.unref();
}

export interface FileHash {
  /** The file now holds at least `bytes` bytes, which the thread may hash. */
  written(bytes: number): void;
  /** The SHA-256 of the whole file, and whether it is UTF-8, once the file is complete at `size` bytes. */
  digest(size: number): Promise<FileDigest>;
  /** The file was given up: its hash is forgotten. */
  drop(): void;
}

export function hashWhileWritten(file: string): FileHash {
  const id = nextId++;
  const thread = hashThread();
  if (thread.idle) { clearTimeout(thread.idle); thread.idle = null; }
  if (thread.hashing++ === 0) thread.worker.ref(); // while it hashes, it keeps the process alive
  let ended = false;
  const end = () => { if (!ended) { ended = true; hashEnded(thread); } };
  const send = (request: HashRequest) => { if (thread.alive) thread.worker.postMessage(request); };
  return {
    written: (bytes) => send({ id, file, upTo: bytes, end: false }),
    digest: (size) => new Promise<FileDigest>((resolve, reject) => {
      if (!thread.alive) { reject(new Error('the hash thread died while the upload was written')); return; }
      waiting.set(id, { resolve, reject });
      send({ id, file, upTo: size, end: true });
    }).finally(end),
    drop: () => {
      send({ id, drop: true });
      end();
    },
  };
}
