/**
 * The main thread's side of the hash thread (hashThread.ts): the SHA-256 of a file, computed while
 * the file is being written and off the event loop: hashed on the main thread, it slowed the
 * upload by as much CPU time as the hash took there (docs/performance.md). The thread reads back
 * from the page cache what has been written, and keeps up with it.
 */
import type { Worker } from 'node:worker_threads';
import type { HashAnswer, HashRequest, StoreErrorInfo } from './hashThread.js';
import type { ObjectTarget } from './objectUpload.js';
import { startThread } from '../threads/startThread.js';
import type { Utf8Break } from './utf8Check.js';

/** A written file's SHA-256 (hex), and where it first is not UTF-8 (null: it is all UTF-8). */
export interface FileDigest { sha256: string; notUtf8: Utf8Break | null }

interface Waiter { resolve(digest: FileDigest): void; reject(err: Error): void }

/** The S3 store failed an upload the hash thread was writing into it (objectUpload.ts). */
export class StoreWriteError extends Error {
  readonly status: number | undefined;
  constructor(info: StoreErrorInfo) {
    super(`${info.name}: ${info.message}`);
    this.name = 'StoreWriteError';
    this.status = info.status;
  }
}
/**
 * The hash thread failed on its own: reading the file back failed, or the thread died. Neither is
 * the client's file nor the store, and trying again is not known to mend it: the server's error
 * (a 500), where a store's failure (StoreWriteError) is a moment's (a 503).
 */
export class HashThreadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HashThreadError';
  }
}

interface HashThread {
  worker: Worker; alive: boolean; hashing: number; idle: NodeJS.Timeout | null;
  /** It has written into an S3 store: it holds the SDK and part buffers (~50 MiB), so it ends as soon as it is idle. */
  wroteToStore: boolean;
  /** Drops sent to this thread and not yet answered. */
  drops: Set<number>;
}

/**
 * A hash thread left without uploads ends after this long: it holds resident memory of its own
 * (docs/performance.md), and an import's peak memory comes after its upload. Uploads in a row
 * share one thread. One that wrote into an S3 store ends at once: its SDK and part buffers would
 * otherwise be held while the import's parse thread starts (the S3 spool's peak, commit message).
 */
const IDLE_MS = 1000;

/** The process's hash thread while uploads are hashed, started again for later ones. */
let current: HashThread | null = null;
let nextId = 1;
const waiting = new Map<number, Waiter>();
/** For hashes of sent bytes: called as the thread has hashed each piece, with the piece's memory back (or has died). */
const pieceHashed = new Map<number, (bytes: ArrayBuffer | null) => void>();
/** For sent bytes written into a store: called when the store failed them (or the thread died). */
const storeFailed = new Map<number, (err: Error) => void>();
/** Drops waiting for the thread to have given their upload up. */
const dropped = new Map<number, () => void>();

function hashThread(): HashThread {
  if (current?.alive) return current;
  const thread: HashThread = { worker: startThread('./hashThread', import.meta.url), alive: true, hashing: 0, idle: null, wroteToStore: false, drops: new Set() };
  thread.worker.on('message', (answer: HashAnswer) => {
    if ('pieceHashed' in answer) { pieceHashed.get(answer.id)?.(answer.bytes); return; }
    if ('storeFailed' in answer) { storeFailed.get(answer.id)?.(new StoreWriteError(answer.storeFailed)); return; }
    if ('dropped' in answer) { dropped.get(answer.id)?.(); dropped.delete(answer.id); thread.drops.delete(answer.id); return; }
    const waiter = waiting.get(answer.id);
    waiting.delete(answer.id);
    if ('error' in answer) waiter?.reject(new HashThreadError(`hashing the upload: ${answer.error}`));
    else if ('storeError' in answer) waiter?.reject(new StoreWriteError(answer.storeError));
    else waiter?.resolve({ sha256: answer.sha256, notUtf8: answer.notUtf8 });
  });
  const died = (err: Error) => {
    if (!thread.alive) return;
    thread.alive = false;
    for (const waiter of waiting.values()) waiter.reject(err);
    waiting.clear();
    for (const release of pieceHashed.values()) release(null); // nobody waits on a dead thread; the digest fails
    for (const fail of storeFailed.values()) fail(err);
    for (const release of dropped.values()) release();
    dropped.clear();
  };
  thread.worker.on('error', (err) => died(new HashThreadError(`the hash thread failed: ${err.message}`, { cause: err })));
  thread.worker.on('exit', (code) => died(new HashThreadError(`the hash thread exited with code ${code}`)));
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
    // A drop asked for after its hash ended gets no answer from a thread that is ending: it is
    // released here (its upload's leftovers are the caller's to remove, as after a thread's death).
    for (const id of thread.drops) { dropped.get(id)?.(); dropped.delete(id); }
    thread.drops.clear();
    void thread.worker.terminate();
  }, thread.wroteToStore ? 0 : IDLE_MS);
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

/** One hash under way on the thread, under its own id. */
function beginHash() {
  const id = nextId++;
  const thread = hashThread();
  if (thread.idle) { clearTimeout(thread.idle); thread.idle = null; }
  if (thread.hashing++ === 0) thread.worker.ref(); // while it hashes, it keeps the process alive
  let ended = false;
  const end = () => { if (!ended) { ended = true; hashEnded(thread); } };
  const send = (request: HashRequest, transfer: ArrayBuffer[] = []) => { if (thread.alive) thread.worker.postMessage(request, transfer); };
  return {
    id,
    thread,
    send,
    /** Sends the hash's last request, whose answer is the digest. */
    digest: (last: HashRequest, transfer: ArrayBuffer[] = []) => new Promise<FileDigest>((resolve, reject) => {
      if (!thread.alive) { reject(new HashThreadError('the hash thread died while the upload was written')); return; }
      waiting.set(id, { resolve, reject });
      send(last, transfer);
    }).finally(end),
    /** Forgets the hash; resolves once the thread has (and has given up an upload it was writing). */
    drop: () => new Promise<void>((resolve) => {
      if (!thread.alive) { resolve(); return; }
      dropped.set(id, resolve);
      thread.drops.add(id);
      send({ id, drop: true });
    }).finally(end),
  };
}

export function hashWhileWritten(file: string): FileHash {
  const hash = beginHash();
  return {
    written: (bytes) => hash.send({ id: hash.id, file, upTo: bytes, end: false }),
    digest: (size) => hash.digest({ id: hash.id, file, upTo: size, end: true }),
    drop: () => { void hash.drop(); },
  };
}

/** Bytes are sent to the thread in pieces of this size: few messages, little memory in flight. */
const PIECE_BYTES = 1 << 20;
/** Pieces sent and not yet hashed, past which the upload waits for the thread: bounded memory. */
const PIECES_IN_FLIGHT = 4;

export interface SentHash {
  /**
   * The next bytes of the upload (copied: the caller may reuse `chunk`). A promise when the
   * thread is behind: take no more bytes until it settles. Throws (or rejects) a StoreWriteError
   * once the store has failed the upload.
   */
  add(chunk: Buffer): Promise<void> | undefined;
  /** The SHA-256 of everything added, and where it first is not UTF-8; with a store, once its object is complete. */
  digest(): Promise<FileDigest>;
  /** Gives the hash up; resolves once the thread has aborted the store's multipart upload, if any. */
  drop(): Promise<void>;
}

/**
 * The SHA-256 of bytes that pass through on their way elsewhere (an upload streamed into an S3
 * store, with no file to read back), hashed on the hash thread as a spool file is: the bytes are
 * copied into pieces whose memory moves to the thread. With `store`, the thread also writes them
 * into that object (objectUpload.ts), and a piece counts as hashed once it is in a part.
 */
export function hashWhileSent(store?: ObjectTarget): SentHash {
  const hash = beginHash();
  if (store) {
    hash.thread.wroteToStore = true;
    hash.send({ id: hash.id, upload: store });
  }
  /** Pieces the thread gave back, to fill again. */
  const spare: Buffer[] = [];
  let piece: Buffer | null = null;
  let filled = 0;
  let inFlight = 0;
  let caughtUp: { resolve(): void; reject(err: Error): void } | null = null;
  let failed: Error | null = null;
  pieceHashed.set(hash.id, (bytes) => {
    if (bytes) spare.push(Buffer.from(bytes));
    inFlight = Math.max(0, inFlight - 1);
    caughtUp?.resolve();
    caughtUp = null;
  });
  storeFailed.set(hash.id, (err) => {
    failed ??= err;
    caughtUp?.reject(err);
    caughtUp = null;
  });
  const forget = () => { pieceHashed.delete(hash.id); storeFailed.delete(hash.id); };
  const take = () => {
    const full = piece;
    piece = null;
    return full ? { bytes: full.buffer as ArrayBuffer, length: filled } : { bytes: null, length: 0 };
  };
  return {
    add(chunk) {
      if (failed) throw failed;
      let sent = false;
      for (let at = 0; at < chunk.length;) {
        piece ??= spare.pop() ?? Buffer.allocUnsafeSlow(PIECE_BYTES);
        const n = chunk.copy(piece, filled, at);
        filled += n;
        at += n;
        if (filled === PIECE_BYTES) {
          const { bytes, length } = take();
          hash.send({ id: hash.id, bytes, length, end: false }, [bytes!]);
          filled = 0;
          inFlight++;
          sent = true;
        }
      }
      if (!sent || inFlight < PIECES_IN_FLIGHT) return undefined;
      return new Promise<void>((resolve, reject) => { caughtUp = { resolve, reject }; });
    },
    digest() {
      forget();
      const { bytes, length } = take();
      return hash.digest({ id: hash.id, bytes, length, end: true }, bytes ? [bytes] : []);
    },
    drop: () => {
      forget();
      caughtUp?.resolve();
      caughtUp = null;
      return hash.drop();
    },
  };
}
