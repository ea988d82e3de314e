/**
 * The room left on the disk under the spool folder. SPOOL_MAX_BYTES is the spool's own budget; a
 * disk shared with other things (logs, a database, another service) can run out first. A file of
 * known size that the disk cannot hold as it stands is refused before its first byte, instead of
 * failing part-way (diskFailure.ts answers that case, for files that arrive together).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { isSpare } from './spoolSpares.js';

/**
 * Whether the disk holding `dir` has at least `bytes` free for an unprivileged writer; true when
 * it cannot be told. A folder not made yet (the spool's, before its first file) is on its
 * nearest existing parent's disk.
 */
export async function diskHasRoom(dir: string, bytes: number): Promise<boolean> {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const stats = await fs.statfs(at).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : null));
    if (stats) return stats.bavail * stats.bsize >= bytes;
    if (stats === null || at === path.dirname(at)) return true;
  }
}

/**
 * The largest spare file in the spool folder (spoolSpares.ts): an upload may write over one, so
 * the disk needs that much less free room for it.
 */
export async function largestSpareBytes(dir: string): Promise<number> {
  const names = (await fs.readdir(dir).catch(() => [] as string[])).filter(isSpare);
  const sizes = await Promise.all(names.map((name) => fs.stat(path.join(dir, name)).then((st) => st.size, () => 0)));
  return Math.max(0, ...sizes);
}
