/**
 * Streams an upload to a file in the spool folder in constant memory, counting bytes as it goes
 * while the hash thread hashes what has been written (spool/fileHashes.ts). The file is a
 * spare written over where one suits (spoolSpares.ts), else a new one. The size limit is
 * enforced here, by our own count (the multipart parser has none, see api/http/uploadPlugin.ts), so
 * it holds with chunked uploads that announce no length; so is the room the spool allows the
 * file (spoolReservations.ts). Past either, the file is cut off at once and removed: the caller
 * stops the rest of it (an upload's request drops the rest of its body, a download is aborted).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SqlExecutor } from '../db/database.js';
import { isTransientDatabaseError } from '../db/transientErrors.js';
import type { Logger } from '../logger.js';
import { hashWhileWritten } from './fileHashes.js';
import type { Utf8Break } from './utf8Check.js';
import { isSpare, keepAsSpare, SPARE_IDLE_MS, takeSpare, type SpareUse } from './spoolSpares.js';
import { jobsUsingSpoolFiles } from '../jobs/jobStore.js';
import { isObjectLocation } from '../parse/objectChunks.js';
import { ORPHAN_AGE_MS, removeObject, type S3Spool } from './s3Spool.js';
import { isScratch, sweepScratchFiles } from './scratchFiles.js';
import { asDiskError, isDiskFailure, onDisk } from './diskFailure.js';

/** The upload itself broke off or was malformed (not our disk or database): the client's error. */
export class UploadStreamError extends Error {}

/**
 * What an upload whose source failed is answered with: the client's stream broke off or was
 * malformed (UploadStreamError, its 400), unless the failure is the server's condition met by a
 * stream on the way (the database away while a workbook's waiting sheet asks it for room, the
 * disk full under its scratch file), which passes as it is (a 503).
 */
export function sourceFailure(err: unknown): unknown {
  if (err instanceof UploadStreamError || isTransientDatabaseError(err)) return err;
  if (isDiskFailure(err)) return asDiskError(err, null);
  return new UploadStreamError((err as Error).message);
}

/**
 * Thrown by a stream between the upload and the spool (intake/fileDecoding.ts: gunzip, another
 * encoding, XLSX) when the file's content is refused, or what it keeps on disk while it is decoded
 * finds no room in the spool (SPOOL_FULL): the spool answers with it as a result.
 */
export class FileRefusal extends Error {
  constructor(readonly code: 'FILE_TOO_LARGE' | 'INVALID_FILE' | 'SPOOL_FULL', message: string) { super(message); }
}

export type SpoolResult =
  /** notUtf8: where the spooled file first is not UTF-8 (null: all of it is). */
  | { ok: true; path: string; size: number; sha256: string; notUtf8: Utf8Break | null }
  | { ok: false; code: 'FILE_TOO_LARGE' | 'SPOOL_FULL' | 'INVALID_FILE'; message: string };

/** The room the spool has given a file: it may write `allowed` bytes, and ask for more. */
export interface SpoolRoom {
  readonly allowed: number;
  /** Asks for room for `bytes` in all; false when the spool has none to give. */
  grow(bytes: number): Promise<boolean>;
}

export interface SpoolOptions {
  /** Where the file goes (newSpoolFile). */
  file: string;
  maxBytes: number;
  /** Without it the file may take up to maxBytes. */
  room?: SpoolRoom;
  spares?: SpareUse;
}

const SPOOL_BUFFER_BYTES = 1 << 20;
/** The hash thread is told how far the file is written each time it has grown by this much. */
const HASH_STEP_BYTES = 4 << 20;
/**
 * A file of unknown size reserves room a step at a time: a sixteenth of the size limit, between
 * 1 and 64 MiB (few round trips to the database, little room held that a small file won't use).
 */
export const roomStep = (maxBytes: number) => Math.min(64 << 20, Math.max(1 << 20, Math.floor(maxBytes / 16)));

export const tooLargeMessage = (maxBytes: number) => `The file is larger than the limit of ${maxBytes} bytes`;
export const SPOOL_FULL_MESSAGE = 'The server has no room for more uploads at the moment; try again later';

export const newSpoolFile = (spoolDir: string) => path.join(spoolDir, `${randomUUID()}.upload`);

class PastLimit extends Error {
  constructor(readonly code: 'FILE_TOO_LARGE' | 'SPOOL_FULL') { super(code); }
}

export async function spoolUpload(source: Readable, opts: SpoolOptions): Promise<SpoolResult> {
  const { file, maxBytes, room } = opts;
  const spoolDir = path.dirname(file);
  await onDisk(spoolDir, () => fs.promises.mkdir(spoolDir, { recursive: true }));
  const overSpare = await takeSpare(spoolDir, file, opts.spares ?? { maxSpares: 0, expectedBytes: null });
  const out = fs.createWriteStream(file, { highWaterMark: SPOOL_BUFFER_BYTES, flags: overSpare ? 'r+' : 'w' });
  const hash = hashWhileWritten(file);
  let told = 0;
  let size = 0;
  const pass = (chunk: Buffer, done: (err?: Error | null, chunk?: Buffer) => void) => {
    if (out.bytesWritten - told >= HASH_STEP_BYTES) hash.written(told = out.bytesWritten);
    done(null, chunk);
  };
  const count = new Transform({
    // Room for a few network chunks while the file write is under way, so reading the upload and
    // writing it to disk overlap (at the default 16 KiB, each chunk waited for the previous write).
    highWaterMark: SPOOL_BUFFER_BYTES,
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > maxBytes) { done(new PastLimit('FILE_TOO_LARGE')); return; }
      if (!room || size <= room.allowed) { pass(chunk, done); return; }
      room.grow(Math.min(maxBytes, size + roomStep(maxBytes))).then(
        (granted) => (granted ? pass(chunk, done) : done(new PastLimit('SPOOL_FULL'))),
        (err: Error) => done(err),
      );
    },
  });
  let sourceError: Error | null = null;
  source.once('error', (err) => { sourceError = err; });
  try {
    await pipeline(source, count, out);
  } catch (err) {
    hash.drop();
    // A disk gone read-only under the upload keeps the file: the sweep's, once it is writable again.
    await fs.promises.rm(file, { force: true }).catch(() => {});
    if (err instanceof PastLimit) {
      return { ok: false, code: err.code, message: err.code === 'FILE_TOO_LARGE' ? tooLargeMessage(maxBytes) : SPOOL_FULL_MESSAGE };
    }
    // The file's write failing (the disk full) fails the upload's stream too, with the same error:
    // it is the server's disk, whatever the source then saw.
    if (isDiskFailure(err)) throw asDiskError(err, file);
    // The upload's own stream may have failed before we listened (while the tenant's limit was checked).
    const fromSource = sourceError ?? source.errored;
    if (fromSource instanceof FileRefusal) return { ok: false, code: fromSource.code, message: fromSource.message };
    if (fromSource) throw sourceFailure(fromSource);
    throw err;
  }
  try {
    // What a spare holds past this upload's end is an earlier upload's: cut off before anything reads the file.
    if (overSpare) await fs.promises.truncate(file, size);
    return { ok: true, path: file, size, ...(await hash.digest(size)) };
  } catch (err) {
    await fs.promises.rm(file, { force: true }).catch(() => {});
    throw asDiskError(err, file);
  }
}


/**
 * The spool folder's housekeeping, run at start and then every minute: removes the files of jobs
 * that ended more than `retentionMs` ago (SPOOL_RETENTION_MS; at 0 a runner removes its job's file
 * itself as the job ends, or keeps it as a spare), spares unused for SPARE_IDLE_MS, and files no
 * job refers to that nobody has written to for an hour (with a shared spool folder, another
 * instance may be receiving that upload right now). Files in `keep` (those of live staged uploads,
 * which may wait idle for hours between parts) are left be. Scratch files go by their own rule
 * (scratchFiles.ts: not while their upload is arriving).
 */
export async function sweepSpool(db: SqlExecutor, spoolDir: string, retentionMs: number, log: Logger, keep: SpoolKeep = NOTHING_KEPT): Promise<number> {
  let names: string[];
  try { names = await fs.promises.readdir(spoolDir); } catch { return 0; }
  if (names.length === 0) return 0;
  let removed = await sweepScratchFiles(db, spoolDir, names, ORPHAN_AGE_MS);
  names = names.filter((name) => !isScratch(name));
  const uses = await jobsUsingSpoolFiles(db, names.map((n) => path.resolve(spoolDir, n)));
  const jobs = new Map(uses.map((u) => [path.resolve(u.spoolPath), u]));
  for (const name of names) {
    const file = path.resolve(spoolDir, name);
    const job = jobs.get(file);
    if (job?.active || keep.locations.has(file)) continue;
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

/** What the sweeps must not remove whatever its age: spool locations, and S3 multipart upload ids. */
export interface SpoolKeep { locations: ReadonlySet<string>; s3UploadIds: ReadonlySet<string> }
export const NOTHING_KEPT: SpoolKeep = { locations: new Set(), s3UploadIds: new Set() };

export async function removeSpoolFile(file: string, log: Logger): Promise<void> {
  await fs.promises.rm(file, { force: true }).catch((err) => log.warn({ err, file }, 'could not remove spool file'));
}

/** What decides an ended job's upload: the settings, and whether a spare may be made of it. */
export interface UploadRelease {
  retentionMs: number;
  spareFiles: number;
  /** Only a job that completed on its first attempt: no earlier runner may still be reading the file. */
  mayBecomeSpare?: boolean;
  /** An S3 spool's store: where an s3:// upload is removed. */
  s3Spool?: S3Spool | null;
}

/**
 * The one rule for an ended job's upload. With SPOOL_RETENTION_MS=0 it goes as the job ends (or
 * stays as a spare for a later upload to write over); with a retention, the sweep removes it later.
 */
export async function releaseJobUpload(file: string, opts: UploadRelease, log: Logger): Promise<void> {
  if (opts.retentionMs !== 0) return;
  if (isObjectLocation(file)) {
    if (opts.s3Spool) await removeObject(opts.s3Spool, file, log);
    return;
  }
  if (opts.mayBecomeSpare && await keepAsSpare(file, opts.spareFiles, log)) return;
  await removeSpoolFile(file, log);
}
