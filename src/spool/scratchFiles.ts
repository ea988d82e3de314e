/**
 * Scratch files: what an arriving file keeps on disk while it is decoded, besides the file it
 * becomes in the spool (an XLSX sheet that waits for the workbook's shared strings, which Excel
 * writes after the sheets). They are written next to the spooled file, in the spool folder (for
 * an S3 spool, the local folder of the same setting, DATA_DIR/spool), named after their upload:
 * `<upload's name>.<part>.scratch`. So:
 * - their bytes take room from their upload's reservation before they are written (sharedRoom.ts),
 *   and the spool's measure counts them as their upload's, not twice (spoolReservations.ts);
 * - the sweep knows whose they are: one whose upload is still arriving (its reservation is live,
 *   renewed by the instance receiving it) stays; one left by a process that died goes once nobody
 *   has written to it for ORPHAN_AGE_MS, as an upload's file does.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { SqlExecutor } from '../db/database.js';
import { listReservations } from '../jobs/uploadReservations.js';
import type { Logger } from '../logger.js';

const SCRATCH = /^(.+\.upload)\.[A-Za-z0-9_-]+\.scratch$/;

/** The scratch file `part` (letters, digits, - and _) of the upload at `owner` (a path or s3:// location), in `dir`. */
export function scratchPath(dir: string, owner: string, part: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(part)) throw new Error(`not a scratch part name: ${part}`);
  return path.join(dir, `${path.posix.basename(owner)}.${part}.scratch`);
}

export const isScratch = (name: string) => SCRATCH.test(name);

/** The upload a scratch file (a path in the folder the upload is spooled to) belongs to, or null if it is none. */
export function scratchOwner(file: string): string | null {
  const owner = SCRATCH.exec(path.basename(file))?.[1];
  return owner === undefined ? null : path.join(path.dirname(file), owner);
}

/**
 * Removes the scratch files among `names` in `dir` that nobody uses: their upload holds no live
 * reservation (with a shared folder or store, whichever instance receives it renews it) and they
 * have not been written to for `orphanAgeMs`. Returns how many went.
 */
export async function sweepScratchFiles(db: SqlExecutor, dir: string, names: string[], orphanAgeMs: number): Promise<number> {
  const scratch = names.filter(isScratch);
  if (scratch.length === 0) return 0;
  const arriving = new Set((await listReservations(db)).map((r) => path.posix.basename(r.spoolPath)));
  let removed = 0;
  for (const name of scratch) {
    if (arriving.has(SCRATCH.exec(name)![1])) continue;
    const file = path.join(dir, name);
    const stat = await fs.stat(file).catch(() => null);
    if (!stat || Date.now() - stat.mtimeMs < orphanAgeMs) continue;
    await fs.rm(file, { force: true });
    removed++;
  }
  return removed;
}

/** The folder's scratch files, swept as sweepScratchFiles does (an S3 spool's local folder). */
export async function sweepScratchFolder(db: SqlExecutor, dir: string, orphanAgeMs: number, log: Logger): Promise<number> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  const removed = await sweepScratchFiles(db, dir, names, orphanAgeMs);
  if (removed) log.info({ removed, dir }, 'removed scratch files');
  return removed;
}
