/**
 * Where an arriving file goes, one interface over both spools: a folder (spool.ts, the default)
 * or an S3 store (s3Upload.ts). A location is a file path or s3://bucket/key, and is what a job
 * row keeps; the parse thread reads either (parse/fileChunks.ts).
 */
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Logger } from '../logger.js';
import { HEAD_BYTES, inspectFile, inspectHead, type Inspection } from './inspect.js';
import { newObjectLocation, objectSizes, removeObject, type S3Spool } from '../spool/s3Spool.js';
import { folderSizes, type StoredSizes } from '../spool/spoolReservations.js';
import { spoolToS3, SpoolStoreError } from '../spool/s3Upload.js';
import { newSpoolFile, roomStep, SPOOL_FULL_MESSAGE, spoolUpload, tooLargeMessage, type SpoolOptions, type SpoolResult } from '../spool/spool.js';

export interface UploadStore {
  newLocation(): string;
  /** Spools the upload at `opts.file` (a location from newLocation). */
  spool(source: Readable, opts: SpoolOptions): Promise<SpoolResult>;
  inspect(location: string, opts: Parameters<typeof inspectFile>[1]): Promise<Inspection>;
  /** An upload no job will run is given up. */
  discard(location: string): Promise<void>;
  /** What the spool holds now, for SPOOL_MAX_BYTES. */
  storedSizes: StoredSizes;
  /**
   * The local folder of the uploads' scratch files (spool/scratchFiles.ts): the spool folder, or
   * for an S3 spool the folder of the same setting (DATA_DIR/spool), swept alike.
   */
  scratchDir: string;
  /** The local folder uploads are written into as they arrive, whose disk must have room for them; null for an S3 spool. */
  diskDir: string | null;
}

export function folderUploads(spoolDir: string): UploadStore {
  return {
    newLocation: () => newSpoolFile(spoolDir),
    spool: spoolUpload,
    inspect: inspectFile,
    discard: (file) => fs.rm(file, { force: true }),
    storedSizes: () => folderSizes(spoolDir),
    scratchDir: spoolDir,
    diskDir: spoolDir,
  };
}

export function s3Uploads(spool: S3Spool, scratchDir: string, log: Logger): UploadStore {
  const heads = new Map<string, Buffer>();
  return {
    newLocation: () => newObjectLocation(spool),
    async spool(source, opts) {
      const key = opts.file.slice(`s3://${spool.bucket}/`.length);
      const done = await spoolToS3(source, spool, key, { maxBytes: opts.maxBytes, room: opts.room, roomStep: roomStep(opts.maxBytes), headBytes: HEAD_BYTES, log });
      if (!done.ok) return 'message' in done ? done : { ...done, message: done.code === 'FILE_TOO_LARGE' ? tooLargeMessage(opts.maxBytes) : SPOOL_FULL_MESSAGE };
      heads.set(done.location, done.head);
      return { ok: true, path: done.location, size: done.size, sha256: done.sha256, notUtf8: done.notUtf8 };
    },
    async inspect(location, opts) {
      const head = heads.get(location);
      heads.delete(location);
      if (!head) throw new Error(`no head kept for ${location}`);
      return inspectHead(head, opts);
    },
    async discard(location) {
      heads.delete(location);
      await removeObject(spool, location, log);
    },
    storedSizes: () => objectSizes(spool).catch((err: unknown) => { throw new SpoolStoreError(err); }),
    scratchDir,
    diskDir: null,
  };
}
