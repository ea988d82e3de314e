/**
 * The hash thread: SHA-256 of spool files, read back as they are written (see fileHashes.ts). One
 * thread serves every upload of the process, each hash under the id the main thread gave it.
 *
 * Protocol: main to thread `{ id, file, upTo, end }`: hash `file` up to byte `upTo`, which the
 * spool has written; with `end`, that is the file's size, and the thread answers `{ id, sha256, notUtf8 }`
 * (notUtf8: where the file first is not UTF-8, or null; utf8Check.ts) or `{ id, error }` (a read that failed earlier is told here, the one answer the main thread
 * waits for). `{ id, drop: true }` forgets a hash (the upload failed).
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { locate, Utf8Check, type Utf8Break } from './utf8Check.js';

export type HashRequest =
  | { id: number; file: string; upTo: number; end: boolean }
  | { id: number; drop: true };
export type HashAnswer = { id: number; sha256: string; notUtf8: Utf8Break | null } | { id: number; error: string };

/** Read back in pieces of this size, into one buffer reused for every file. */
const READ_BYTES = 1 << 20;
const buffer = Buffer.allocUnsafe(READ_BYTES);

interface Hashing { fd: number | null; hashed: number; hash: Hash; utf8: Utf8Check; error: string | null }
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

port.on('message', (m: HashRequest) => {
  if ('drop' in m) { forget(m.id); return; }
  let h = hashings.get(m.id);
  if (!h) hashings.set(m.id, h = { fd: null, hashed: 0, hash: createHash('sha256'), utf8: new Utf8Check(false), error: null });
  try {
    if (!h.error) hashUpTo(h, m.file, m.upTo);
  } catch (err) {
    h.error = (err as Error).message;
  }
  if (!m.end) return;
  let answer: HashAnswer;
  try {
    answer = h.error ? { id: m.id, error: h.error } : { id: m.id, sha256: h.hash.digest('hex'), notUtf8: whereNotUtf8(h) };
  } catch (err) {
    answer = { id: m.id, error: (err as Error).message };
  }
  forget(m.id);
  port.postMessage(answer);
});
