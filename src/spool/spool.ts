/**
 * Streams an upload to a file in the spool folder in constant memory, counting bytes as it goes
 * while the hash thread hashes what has been written (spool/fileHashes.ts). The file is a
 * spare written over where one suits (spoolSpares.ts), else a new one. The size limit is
 * enforced here, by our own count (the multipart parser has none, see api/http/uploadPlugin.ts), so
 * it holds with chunked uploads that announce no length. Past the limit the rest of an upload is
 * read and dropped, so the request ends and gets its answer; a download (importFromUrl) is broken
 * off instead.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SqlExecutor } from '../db/database.js';
import type { Logger } from '../logger.js';
import { hashWhileWritten } from './fileHashes.js';
import { isSpare, keepAsSpare, SPARE_IDLE_MS, takeSpare, type SpareUse } from './spoolSpares.js';
import { jobsUsingSpoolFiles } from '../jobs/jobStore.js';

/** The upload itself broke off or was malformed (not our disk or database): the client's error. */
export class UploadStreamError extends Error {}

export type SpoolResult =
  | { ok: true; path: string; size: number; sha256: string }
  | { ok: false; code: 'FILE_TOO_LARGE'; message: string };

const SPOOL_BUFFER_BYTES = 1 << 20;
/** The hash thread is told how far the file is written each time it has grown by this much. */
const HASH_STEP_BYTES = 4 << 20;

export const tooLargeMessage = (maxBytes: number) => `The file is larger than the limit of ${maxBytes} bytes`;

class PastLimit extends Error {}

/**
 * `pastLimit`: what to do with the rest of a file over the limit. An upload must be read to its
 * end ('drain') so that its HTTP request finishes and gets its answer; a download we make
 * ourselves ('stop') is simply broken off.
 */
export async function spoolUpload(
  source: Readable, spoolDir: string, maxBytes: number, pastLimit: 'drain' | 'stop' = 'drain', spares: SpareUse = { maxSpares: 0, expectedBytes: null },
): Promise<SpoolResult> {
  await fs.promises.mkdir(spoolDir, { recursive: true });
  const file = path.join(spoolDir, `${randomUUID()}.upload`);
  const overSpare = await takeSpare(spoolDir, file, spares);
  const out = fs.createWriteStream(file, { highWaterMark: SPOOL_BUFFER_BYTES, flags: overSpare ? 'r+' : 'w' });
  const hash = hashWhileWritten(file);
  let told = 0;
  let size = 0;
  let tooLarge = false;
  const count = new Transform({
    // Room for a few network chunks while the file write is under way, so reading the upload and
    // writing it to disk overlap (at the default 16 KiB, each chunk waited for the previous write).
    highWaterMark: SPOOL_BUFFER_BYTES,
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      // Past the limit write nothing more; an upload is still read to its end (see pastLimit).
      if (tooLarge || size > maxBytes) {
        tooLarge = true;
        done(pastLimit === 'stop' ? new PastLimit() : undefined);
        return;
      }
      if (out.bytesWritten - told >= HASH_STEP_BYTES) hash.written(told = out.bytesWritten);
      done(null, chunk);
    },
  });
  let sourceError: Error | null = null;
  source.once('error', (err) => { sourceError = err; });
  try {
    await pipeline(source, count, out);
  } catch (err) {
    hash.drop();
    await fs.promises.rm(file, { force: true });
    if (err instanceof PastLimit) return { ok: false, code: 'FILE_TOO_LARGE', message: tooLargeMessage(maxBytes) };
    // The upload's own stream may have failed before we listened (while the tenant's limit was checked).
    const fromSource = sourceError ?? source.errored;
    if (fromSource) throw new UploadStreamError((fromSource as Error).message);
    throw err;
  }
  if (tooLarge) {
    hash.drop();
    await fs.promises.rm(file, { force: true });
    return { ok: false, code: 'FILE_TOO_LARGE', message: tooLargeMessage(maxBytes) };
  }
  try {
    // What a spare holds past this upload's end is an earlier upload's: cut off before anything reads the file.
    if (overSpare) await fs.promises.truncate(file, size);
    return { ok: true, path: file, size, sha256: await hash.digest(size) };
  } catch (err) {
    await fs.promises.rm(file, { force: true });
    throw err;
  }
}

/** Reads and drops the rest of a stream, so the HTTP request can finish. */
export function drain(source: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (source.readableEnded || source.destroyed) { resolve(); return; }
    source.on('end', resolve).on('error', () => resolve()).on('close', resolve);
    source.resume();
  });
}

/** An upload file no job refers to is left by an upload that died half-way (or a crash before its job row). */
const ORPHAN_AGE_MS = 60 * 60 * 1000;

/**
 * The spool folder's housekeeping, run at start and then every minute: removes the files of jobs
 * that ended more than `retentionMs` ago (SPOOL_RETENTION_MS; at 0 a runner removes its job's file
 * itself as the job ends, or keeps it as a spare), spares unused for SPARE_IDLE_MS, and files no
 * job refers to that nobody has written to for an hour (with a shared spool folder, another
 * instance may be receiving that upload right now).
 */
export async function sweepSpool(db: SqlExecutor, spoolDir: string, retentionMs: number, log: Logger): Promise<number> {
  let names: string[];
  try { names = await fs.promises.readdir(spoolDir); } catch { return 0; }
  if (names.length === 0) return 0;
  const uses = await jobsUsingSpoolFiles(db, names.map((n) => path.resolve(spoolDir, n)));
  const jobs = new Map(uses.map((u) => [path.resolve(u.spoolPath), u]));
  let removed = 0;
  for (const name of names) {
    const file = path.resolve(spoolDir, name);
    const job = jobs.get(file);
    if (job?.active) continue;
    if (job) {
      if (job.endedMs !== null && Date.now() - job.endedMs < retentionMs) continue;
    } else {
      const stat = await fs.promises.stat(file).catch(() => null);
      if (!stat || Date.now() - stat.mtimeMs < (isSpare(name) ? SPARE_IDLE_MS : ORPHAN_AGE_MS)) continue;
    }
    await fs.promises.rm(file, { force: true });
    removed++;
  }
  if (removed) log.info({ removed }, 'removed spool files');
  return removed;
}

export async function removeSpoolFile(file: string, log: Logger): Promise<void> {
  await fs.promises.rm(file, { force: true }).catch((err) => log.warn({ err, file }, 'could not remove spool file'));
}

/** What decides an ended job's upload: the settings, and whether a spare may be made of it. */
export interface UploadRelease {
  retentionMs: number;
  spareFiles: number;
  /** Only a job that completed on its first attempt: no earlier runner may still be reading the file. */
  mayBecomeSpare?: boolean;
}

/**
 * The one rule for an ended job's upload. With SPOOL_RETENTION_MS=0 it goes as the job ends (or
 * stays as a spare for a later upload to write over); with a retention, the sweep removes it later.
 */
export async function releaseJobUpload(file: string, opts: UploadRelease, log: Logger): Promise<void> {
  if (opts.retentionMs !== 0) return;
  if (opts.mayBecomeSpare && await keepAsSpare(file, opts.spareFiles, log)) return;
  await removeSpoolFile(file, log);
}
