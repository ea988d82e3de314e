/**
 * The hash thread: SHA-256 of spool files, read back as they are written (see fileHashes.ts). One
 * thread serves every upload of the process, each hash under the id the main thread gave it.
 *
 * Protocol: main to thread `{ id, file, upTo, end }`: hash `file` up to byte `upTo`, which the
 * spool has written; with `end`, that is the file's size, and the thread answers `{ id, sha256, notUtf8 }`
 * (notUtf8: where the file first is not UTF-8, or null; utf8Check.ts) or `{ id, error }` (a read that failed earlier is told here, the one answer the main thread
 * waits for). `{ id, drop: true }` forgets a hash (the upload failed), answered `{ id, dropped: true }`.
 *
 * Sent bytes (`{ id, bytes, length, end }`, an upload with no file to read back) may also be
 * written into an S3 object here (objectUpload.ts), when `{ id, upload: target }` came first: each
 * piece is answered once it is hashed and copied into a part, the digest once the object is
 * complete; a store failure is told at once (`{ id, storeFailed }`), so the main thread stops
 * taking the upload's bytes, and the digest's answer is then `{ id, storeError }`.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { ObjectUpload, type ObjectTarget } from './objectUpload.js';
import { locate, Utf8Check, type Utf8Break } from './utf8Check.js';

/** A store's error, as much of it as crosses to the main thread. */
export interface StoreErrorInfo { name: string; message: string; status?: number }

export type HashRequest =
  | { id: number; file: string; upTo: number; end: boolean }
  | { id: number; bytes: ArrayBuffer | null; length: number; end: boolean }
  | { id: number; upload: ObjectTarget }
  | { id: number; drop: true };
export type HashAnswer =
  | { id: number; sha256: string; notUtf8: Utf8Break | null }
  | { id: number; error: string }
  | { id: number; storeError: StoreErrorInfo }
  | { id: number; storeFailed: StoreErrorInfo }
  /** The piece's memory goes back to the sender, which fills it again: no new piece per megabyte on either side. */
  | { id: number; pieceHashed: true; bytes: ArrayBuffer | null }
  | { id: number; dropped: true };

/** Read back in pieces of this size, into one buffer reused for every file. */
const READ_BYTES = 1 << 20;
const buffer = Buffer.allocUnsafe(READ_BYTES);

interface Hashing {
  fd: number | null; hashed: number; hash: Hash; utf8: Utf8Check; error: string | null;
  /** Where sent bytes are written too, if anywhere; its requests are handled one after the other, in `queue`. */
  upload: ObjectUpload | null; queue: Promise<void>; storeFailedTold: boolean;
}
const hashings = new Map<number, Hashing>();
const port = parentPort!;

function hashUpTo(h: Hashing, file: string, upTo: number): void {
  // Opened at the first bytes to read: by then the spool has created the file.
  h.fd ??= fs.openSync(file, 'r');
  while (h.hashed < upTo) {
    const read = fs.readSync(h.fd, buffer, 0, Math.min(READ_BYTES, upTo - h.hashed), h.hashed);
    if (read === 0) throw new Error(`${file} ended at byte ${h.hashed}, ${upTo} expected`);
    h.hash.update(buffer.subarray(0, read));
    h.utf8.feed(buffer.subarray(0, read));
    h.hashed += read;
  }
}

function hashBytes(h: Hashing, bytes: Uint8Array): void {
  const piece = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  h.hash.update(piece);
  h.utf8.feed(piece);
  h.hashed += piece.length;
}

/** Where the file first is not UTF-8: its lines are counted only then, from the file. */
function whereNotUtf8(h: Hashing): Utf8Break | null {
  const broken = h.utf8.finish();
  if (!broken || h.fd === null) return broken;
  const fd = h.fd;
  return locate(broken.offset, (into, at) => fs.readSync(fd, into, 0, into.length, at), buffer);
}

function forget(id: number): void {
  const h = hashings.get(id);
  hashings.delete(id);
  if (h?.fd != null) fs.closeSync(h.fd);
}

const storeErrorInfo = (err: unknown): StoreErrorInfo => {
  const e = err as Error & { $metadata?: { httpStatusCode?: number } };
  return { name: e?.name ?? 'Error', message: e?.message ?? String(err), status: e?.$metadata?.httpStatusCode };
};

function hashingOf(m: { id: number }, sentBytes: boolean): Hashing {
  let h = hashings.get(m.id);
  // Sent bytes cannot be read again to find a break's line: their lines are counted as they pass.
  if (!h) hashings.set(m.id, h = { fd: null, hashed: 0, hash: createHash('sha256'), utf8: new Utf8Check(sentBytes), error: null, upload: null, queue: Promise.resolve(), storeFailedTold: false });
  return h;
}

/** The digest's answer, once everything asked for is hashed. */
function digestAnswer(h: Hashing, id: number): HashAnswer {
  try {
    return h.error ? { id, error: h.error } : { id, sha256: h.hash.digest('hex'), notUtf8: whereNotUtf8(h) };
  } catch (err) {
    return { id, error: (err as Error).message };
  }
}

function pieceDone(m: { id: number; bytes: ArrayBuffer | null }): void {
  port.postMessage({ id: m.id, pieceHashed: true, bytes: m.bytes } satisfies HashAnswer, m.bytes ? [m.bytes] : []);
}

/** A piece of sent bytes for an upload written into the store: hashed, then copied into its parts. */
async function uploadPiece(h: Hashing, m: { id: number; bytes: ArrayBuffer | null; length: number; end: boolean }): Promise<void> {
  const upload = h.upload!;
  try {
    if (m.bytes && !h.error) hashBytes(h, new Uint8Array(m.bytes, 0, m.length));
  } catch (err) {
    h.error = (err as Error).message;
  }
  try {
    if (m.bytes && !upload.failure) await upload.add(new Uint8Array(m.bytes, 0, m.length));
    if (m.end && !upload.failure) await upload.complete();
  } catch (err) {
    upload.failure ??= err as Error;
  }
  if (upload.failure && !h.storeFailedTold) {
    h.storeFailedTold = true;
    port.postMessage({ id: m.id, storeFailed: storeErrorInfo(upload.failure) } satisfies HashAnswer);
  }
  if (!m.end) { pieceDone(m); return; }
  let answer: HashAnswer;
  if (upload.failure) {
    answer = { id: m.id, storeError: storeErrorInfo(upload.failure) };
    await upload.abort().catch(() => {}); // what is left, the main thread's cleanup removes
  } else {
    answer = digestAnswer(h, m.id);
  }
  forget(m.id);
  port.postMessage(answer);
}

port.on('message', (m: HashRequest) => {
  if ('drop' in m) {
    const h = hashings.get(m.id);
    // Behind the requests before it: its parts in flight settle, then the multipart upload is aborted.
    h?.upload?.stop();
    const dropped = h?.upload ? h.queue.then(() => h.upload!.abort()).catch(() => {}) : Promise.resolve();
    void dropped.finally(() => {
      forget(m.id);
      port.postMessage({ id: m.id, dropped: true } satisfies HashAnswer);
    });
    return;
  }
  if ('upload' in m) {
    hashingOf(m, true).upload = new ObjectUpload(m.upload);
    return;
  }
  const h = hashingOf(m, !('file' in m));
  if (h.upload && 'bytes' in m) {
    // Never a rejected link: the requests after it must still be answered.
    h.queue = h.queue.then(() => uploadPiece(h, m)).catch((err: Error) => { h.error ??= err.message; });
    return;
  }
  try {
    if (!h.error) {
      if ('file' in m) hashUpTo(h, m.file, m.upTo);
      else if (m.bytes) hashBytes(h, new Uint8Array(m.bytes, 0, m.length));
    }
  } catch (err) {
    h.error = (err as Error).message;
  }
  if (!m.end) {
    // Sent bytes: the sender holds back once a few pieces are on their way (fileHashes.ts).
    if ('bytes' in m) pieceDone(m);
    return;
  }
  const answer = digestAnswer(h, m.id);
  forget(m.id);
  port.postMessage(answer);
});
