/**
 * The server's own disk failing under an upload's bytes: full (ENOSPC, or the quota's EDQUOT,
 * which a disk shared with other things reaches before SPOOL_MAX_BYTES does), or broken (EIO, or
 * EROFS once the kernel has remounted it read-only after errors). Whichever stream met it (the
 * spool's file, a workbook's scratch file, a staged part), it is the server's condition, never the
 * file's: the client is told to try again later (SPOOL_FULL for a full disk, as for a full spool),
 * with no path in the message; the operator finds the real error, path and all, in the log.
 */

const FULL = new Set(['ENOSPC', 'EDQUOT']);
const BROKEN = new Set(['EIO', 'EROFS']);

export const DISK_FULL_MESSAGE = 'The server is out of disk space for uploads at the moment; try again later';
export const DISK_BROKEN_MESSAGE = 'The server could not write the upload to its disk (a disk error on its side); try again later';

/** An upload's bytes could not be written to (or read back from) the server's disk. */
export class ServerDiskError extends Error {
  /** ENOSPC or EDQUOT: no room, which frees itself; else the disk itself failed. */
  readonly full: boolean;
  /** `file`: the one being written, where known (for the log only). */
  constructor(readonly cause: NodeJS.ErrnoException, readonly file: string | null) {
    const full = FULL.has(cause.code ?? '');
    super(full ? DISK_FULL_MESSAGE : DISK_BROKEN_MESSAGE);
    this.full = full;
  }
}

/**
 * Whether `err` is the disk's own failure (full, or broken), as opposed to the file's or the
 * client's: the system's error, or a ServerDiskError made of one.
 */
export function isDiskFailure(err: unknown): err is NodeJS.ErrnoException | ServerDiskError {
  if (err instanceof ServerDiskError) return true;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && (FULL.has(code) || BROKEN.has(code));
}

/** `err` as a ServerDiskError for `file` if it is the disk's failure (or already one); else as it is. */
export function asDiskError(err: unknown, file: string | null): unknown {
  if (!isDiskFailure(err)) return err;
  return err instanceof ServerDiskError ? err : new ServerDiskError(err, file);
}

/** Runs a step that writes to `file`, its disk failure thrown as a ServerDiskError. */
export async function onDisk<T>(file: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw asDiskError(err, file);
  }
}
