/**
 * The limits on files arriving into the spool (uploads, downloads, batches), decided before the
 * first byte is written, by every instance on the database alike (each file holds a row of
 * upload_reservations while it arrives):
 * - a tenant with MAX_ACTIVE_JOBS_PER_TENANT imports queued, running or arriving, or with
 *   MAX_CONCURRENT_UPLOADS_PER_TENANT files arriving, gets IMPORT_IN_PROGRESS;
 * - the spool holds at most SPOOL_MAX_BYTES: the files in its folder (spares aside: there are at
 *   most SPOOL_SPARE_FILES of them, and uploads write over them) plus what arriving files may
 *   still write. A file of known size reserves all of it at once; one of unknown size (a chunked
 *   upload, a download) reserves a step at a time as it grows, and is cut off when there is no
 *   more room. Past the cap the answer is SpoolFullError, which the API turns into a 503.
 * The spool is measured, not reckoned (the folder's files, or an S3 spool's objects), so files
 * another instance writes into a shared folder or the store count as they are. A file's reservation
 * also covers what it keeps on disk while it is decoded (its scratch files, sharedRoom.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { countActiveJobs, lockTenantJobs } from '../jobs/jobStore.js';
import {
  countTenantReservations, deleteReservation, dropExpiredReservations, insertReservation, listReservations, lockSpoolRoom,
  renewReservation, setReservationBytes, type ReservationRow,
} from '../jobs/uploadReservations.js';
import { roomStep, SPOOL_FULL_MESSAGE, type SpoolRoom } from './spool.js';
import { isSpare } from './spoolSpares.js';
import { scratchOwner } from './scratchFiles.js';
import { isTransientDatabaseError } from '../db/transientErrors.js';
import { DISK_FULL_MESSAGE } from './diskFailure.js';
import { diskHasRoom, largestSpareBytes } from './diskRoom.js';

/** The spool (or the disk under it) has no room for the file: the server's condition, not the client's fault. */
export class SpoolFullError extends Error {
  constructor(message = SPOOL_FULL_MESSAGE) { super(message); }
}

/**
 * The local folder a file is written into as it arrives, whose disk must hold it as the disk stands
 * (diskRoom.ts); none for an S3 spool, whose local scratch files are weighed as they are written.
 */
export interface DiskDir { diskDir?: string | null }

/** A file of known size that the disk under the spool cannot hold as it stands: refused before its first byte. */
export class DiskFullError extends SpoolFullError {
  constructor(readonly bytes: number, readonly dir: string) { super(DISK_FULL_MESSAGE); }
}

async function checkDiskRoom(deps: DiskDir, bytes: number): Promise<void> {
  if (!deps.diskDir) return;
  if (!(await diskHasRoom(deps.diskDir, bytes - await largestSpareBytes(deps.diskDir)))) throw new DiskFullError(bytes, deps.diskDir);
}

/** A reservation not renewed for this long stops counting (its instance died). */
const RESERVATION_TTL_MS = 30_000;
const RENEW_EVERY_MS = 10_000;
/** A release that failed (the database away) is tried again this often. */
const RELEASE_RETRY_MS = 1_000;

/** Room in the spool for one arriving file, held until released (once its job exists, or it is refused). */
export interface Arrival extends SpoolRoom {
  release(): Promise<void>;
}

export const jobsInProgressMessage = (max: number) =>
  `This tenant already has ${max} import(s) queued or running; wait for it to finish or cancel it`;

/** The tenant is at one of its limits: the upload is refused as it is (a UserError). */
export interface TenantBusy { code: 'IMPORT_IN_PROGRESS'; message: string }

export interface ArrivalRequest {
  tenantId: string;
  /** Where the file will be written (newSpoolFile). */
  file: string;
  /** At most how many bytes it has, when known. */
  bytes: number | null;
}

type Limits = Pick<Config, 'maxActiveJobsPerTenant' | 'maxConcurrentUploadsPerTenant' | 'maxFileSize' | 'spoolDir' | 'spoolMaxBytes'>;

/** The sizes of the files the spool holds now, by location (spares aside). */
export type StoredSizes = () => Promise<Map<string, number>>;

/** Reserves room for a file about to arrive, or says why not (TenantBusy, or SpoolFullError thrown). */
export async function reserveArrival(deps: { db: Database; config: Limits; storedSizes?: StoredSizes } & DiskDir, req: ArrivalRequest): Promise<Arrival | TenantBusy> {
  const { db, config } = deps;
  const storedSizes = deps.storedSizes ?? (() => folderSizes(config.spoolDir));
  const bytesInUse = async (reservations: ReservationRow[]) => inUse(await storedSizes(), reservations);
  const wanted = Math.min(req.bytes ?? roomStep(config.maxFileSize), config.maxFileSize);
  // Only a file that says its size: one that does not may be small, and meets a full disk as it is written (diskFailure.ts).
  if (req.bytes !== null) await checkDiskRoom(deps, wanted);
  const reserved = await db.transaction(async (tx): Promise<string | TenantBusy> => {
    await lockTenantJobs(tx, req.tenantId);
    await dropExpiredReservations(tx, req.tenantId);
    const active = await countActiveJobs(tx, req.tenantId);
    const arriving = await countTenantReservations(tx, req.tenantId);
    if (arriving >= config.maxConcurrentUploadsPerTenant || (arriving > 0 && active + arriving >= config.maxActiveJobsPerTenant)) {
      return {
        code: 'IMPORT_IN_PROGRESS',
        message: `This tenant already has ${arriving} file(s) arriving (at most ${config.maxConcurrentUploadsPerTenant} at once); send the next once it is queued`,
      };
    }
    if (active >= config.maxActiveJobsPerTenant) {
      return { code: 'IMPORT_IN_PROGRESS', message: jobsInProgressMessage(config.maxActiveJobsPerTenant) };
    }
    await lockSpoolRoom(tx);
    if (await bytesInUse(await listReservations(tx)) + wanted > config.spoolMaxBytes) throw new SpoolFullError();
    return insertReservation(tx, { tenantId: req.tenantId, spoolPath: req.file, bytes: wanted, ttlMs: RESERVATION_TTL_MS });
  });
  if (typeof reserved !== 'string') return reserved;
  const id = reserved;

  let allowed = wanted;
  // A failed renewal (the database away for a moment) is tried again at the next one; a row
  // that expires meanwhile only loosens the limits for this one file.
  const renewal = setInterval(() => { renewReservation(db, id, RESERVATION_TTL_MS).catch(() => {}); }, RENEW_EVERY_MS);
  renewal.unref();
  let released = false;
  return {
    get allowed() { return allowed; },
    async grow(bytes) {
      const granted = await db.transaction(async (tx) => {
        await lockSpoolRoom(tx);
        const others = (await listReservations(tx)).filter((r) => r.id !== id);
        if (await bytesInUse([...others, { id, spoolPath: req.file, bytes }]) > config.spoolMaxBytes) return false;
        await setReservationBytes(tx, id, bytes);
        return true;
      });
      if (granted) allowed = bytes;
      return granted;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(renewal);
      // With the database away the row is deleted once it is back (tried every second, in the
      // background, for as long as it would count): until then it holds the tenant's upload slot,
      // and the same file sent again would be refused until the row expired.
      const until = Date.now() + RESERVATION_TTL_MS;
      const remove = (): Promise<void> => deleteReservation(db, id).catch((err) => {
        if (isTransientDatabaseError(err) && Date.now() < until) setTimeout(() => void remove(), RELEASE_RETRY_MS).unref();
      });
      await remove();
    },
  };
}

/**
 * Runs `make` (which puts a file of `bytes` bytes in the spool at once: a staged upload's) only if
 * the spool has room for it, weighed as arriving files are; else throws SpoolFullError.
 */
export async function withSpoolRoom<T>(deps: { db: Database; config: Limits; storedSizes?: StoredSizes } & DiskDir, bytes: number, make: () => Promise<T>): Promise<T> {
  const storedSizes = deps.storedSizes ?? (() => folderSizes(deps.config.spoolDir));
  await checkDiskRoom(deps, bytes);
  return deps.db.transaction(async (tx) => {
    await lockSpoolRoom(tx);
    if (inUse(await storedSizes(), await listReservations(tx)) + bytes > deps.config.spoolMaxBytes) throw new SpoolFullError();
    return make();
  });
}

/** The spool folder's files and their sizes, spares aside (uploads write over them). */
export async function folderSizes(spoolDir: string): Promise<Map<string, number>> {
  const names = await fs.readdir(spoolDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const sizes = new Map<string, number>();
  await Promise.all(names.filter((name) => !isSpare(name)).map(async (name) => {
    const file = path.join(spoolDir, name);
    const stat = await fs.stat(file).catch(() => null); // removed meanwhile
    if (stat?.isFile()) sizes.set(file, stat.size);
  }));
  return sizes;
}

/**
 * What the spool holds: its files as they are now, plus what each arriving file may still write
 * beyond what it has written. An arriving file's reservation covers its scratch files too
 * (scratchFiles.ts): what they hold is part of what it has written.
 */
function inUse(sizes: Map<string, number>, reservations: ReservationRow[]): number {
  let total = 0;
  const written = new Map<string, number>();
  for (const [file, size] of sizes) {
    total += size;
    const owner = scratchOwner(file) ?? file;
    written.set(owner, (written.get(owner) ?? 0) + size);
  }
  for (const r of reservations) total += Math.max(0, r.bytes - (written.get(r.spoolPath) ?? 0));
  return total;
}
