/**
 * Spare spool files: the file of a completed job, kept so that a later upload writes over it
 * instead of into a new file (as Postgres recycles its WAL segment files).
 *
 * Why: memory the kernel has left unused for a few seconds goes back to a VM's host, and touching
 * it again is slow: writing into a new file then costs far more kernel time than writing over a
 * file whose pages are still cached, and uploads are markedly faster with spares
 * (docs/performance.md).
 *
 * Isolation: a spare is taken by renaming it to the new upload's name (atomic: two uploads, or two
 * instances sharing the folder, never get the same one), written over from its first byte, and
 * truncated to the upload's size before anything reads it, so no job ever reads another's bytes.
 * A spare unused for SPARE_IDLE_MS is removed by the spool sweep (spool.ts).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logger.js';

const SPARE_PREFIX = 'spare-';
/** A spare unused for this long goes: it holds disk space, and a past upload's bytes. */
export const SPARE_IDLE_MS = 10 * 60_000;
/**
 * A spare more than this many times the expected size is left for a larger upload while the
 * folder has room for one more spare: taking it would cut off (and free) the pages a later large
 * upload could have written over.
 */
const KEEP_LARGE_SPARE_RATIO = 1.5;

export const isSpare = (name: string) => name.startsWith(SPARE_PREFIX);

export interface Spare { name: string; size: number }

export interface SpareUse {
  /** How many spares the folder may hold (SPOOL_SPARE_FILES; 0: none are kept or taken). */
  maxSpares: number;
  /** About how large the upload will be (the request's Content-Length), if known. */
  expectedBytes: number | null;
}

/**
 * Which spare an upload of about `expectedBytes` writes over, if any: the smallest that holds it,
 * unless that one is much larger and the folder has room to keep it as well. When none holds it:
 * a new file while the folder has room for one more spare, so that the smaller spares stay for the
 * uploads they fit (uploads alternating between two sizes then each find one from their second
 * time on); else the largest, which grows (all its pages are written over).
 */
export function chooseSpare(spares: Spare[], use: SpareUse): Spare | null {
  if (spares.length === 0 || use.maxSpares === 0) return null;
  const bySize = [...spares].sort((a, b) => a.size - b.size);
  const largest = bySize[bySize.length - 1];
  if (use.expectedBytes === null) return largest;
  const fit = bySize.find((s) => s.size >= use.expectedBytes!);
  const roomForAnother = spares.length < use.maxSpares;
  if (!fit) return roomForAnother ? null : largest;
  return fit.size > use.expectedBytes * KEEP_LARGE_SPARE_RATIO && roomForAnother ? null : fit;
}

async function listSpares(spoolDir: string): Promise<Spare[]> {
  const names = (await fs.readdir(spoolDir)).filter(isSpare);
  const spares = await Promise.all(names.map(async (name) => {
    const stat = await fs.stat(path.join(spoolDir, name)).catch(() => null);
    return stat ? { name, size: stat.size } : null;
  }));
  return spares.filter((s): s is Spare => s !== null);
}

/**
 * Moves a spare to `file` (a new upload's name) if one suits. True when `file` is now a spare to
 * write over (and truncate once written); false when it is to be created.
 */
export async function takeSpare(spoolDir: string, file: string, use: SpareUse): Promise<boolean> {
  if (use.maxSpares === 0) return false;
  let spares = await listSpares(spoolDir);
  for (;;) {
    const spare = chooseSpare(spares, use);
    if (!spare) return false;
    try {
      // Written to from now on: the sweep must not take it for an upload abandoned an hour ago.
      await moveTouched(path.join(spoolDir, spare.name), file);
      return true;
    } catch {
      // Taken (or swept) meanwhile by someone else: choose among the others.
      spares = spares.filter((s) => s !== spare);
    }
  }
}

/**
 * Makes a completed job's file a spare if the folder has room for one more. False when it did not
 * (the caller removes the file). Only for a job whose reading is over: a spare is written over by
 * the next upload.
 */
export async function keepAsSpare(file: string, maxSpares: number, log: Logger): Promise<boolean> {
  const spoolDir = path.dirname(file);
  try {
    if (maxSpares === 0 || (await listSpares(spoolDir)).length >= maxSpares) return false;
    const name = `${SPARE_PREFIX}${randomUUID()}.upload`;
    const spare = path.join(spoolDir, name);
    // Its age as a spare counts from now (the sweep reads it from the modification time).
    await moveTouched(file, spare);
    // Jobs ending at once (here or in another instance) may each have seen room for one more.
    const spares = await listSpares(spoolDir);
    if (spares.length > maxSpares && spares.some((s) => s.name === name)) await fs.rm(spare, { force: true });
    return true;
  } catch (err) {
    log.warn({ err, file }, 'could not keep the spool file as a spare');
    return false;
  }
}

/** Renames `from` to `to` and sets its modification time to now, which the spool sweep ages files by. */
async function moveTouched(from: string, to: string): Promise<void> {
  await fs.rename(from, to);
  const now = new Date();
  await fs.utimes(to, now, now).catch(() => {}); // taken or swept meanwhile: not ours to age any more
}
