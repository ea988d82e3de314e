/**
 * Staged uploads on the folder spool: the file is made at its full size when the upload is
 * created (so the spool's room counts it at once: spoolReservations.ts measures the folder), and
 * each part PUT to the service writes at its offset. A part counts as received only once its last
 * byte is written; one sent again overwrites the same bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { finished, Transform, type Readable } from 'node:stream';
import { hashWhileWritten } from '../../spool/fileHashes.js';
import { newSpoolFile } from '../../spool/spool.js';
import { onDisk } from '../../spool/diskFailure.js';
import { missingParts, partLength, partOffset } from './partPlan.js';
import { partPath, signedPartQuery } from './partSignature.js';
import type { StagedStorage } from './stagedStorage.js';

export function folderStaging(spoolDir: string): StagedStorage {
  return {
    async begin(fileSize) {
      const location = path.resolve(newSpoolFile(spoolDir));
      await onDisk(location, async () => {
        await fs.promises.mkdir(spoolDir, { recursive: true });
        const handle = await fs.promises.open(location, 'wx');
        try { await handle.truncate(fileSize); } catch (err) { await fs.promises.rm(location, { force: true }); throw err; } finally { await handle.close(); }
      });
      return { location, s3UploadId: null };
    },
    partUrl: async (row, n, origin) => `${origin}${partPath(row.id, n)}?${signedPartQuery(row.signingKey, row.id, n, row.expiresAt)}`,
    receivedParts: async (row) => [...row.receivedParts].sort((a, b) => a - b),
    assemble: async (row) => missingParts(row.fileSize, row.partSize, row.receivedParts),
    async read(row, headBytes) {
      const size = (await fs.promises.stat(row.location)).size;
      const head = await readHead(row.location, Math.min(headBytes, size));
      return { size, ...(await hashWhileWritten(row.location).digest(size)), head };
    },
    head: async (row, bytes) => readHead(row.location, Math.min(bytes, (await fs.promises.stat(row.location)).size)),
    open: async (row) => fs.createReadStream(row.location, { highWaterMark: 1 << 20 }),
    discard: (row) => fs.promises.rm(row.location, { force: true }),
  };
}

async function readHead(location: string, bytes: number): Promise<Buffer> {
  const handle = await fs.promises.open(location, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally { await handle.close(); }
}

/** The part's body was not exactly the part's length: the client's error; the part is not received. */
export class PartSizeError extends Error {}

/**
 * Writes part `n` of the upload from `body` at its offset; resolves once every byte of it is
 * written, and fails (leaving the part not received) if the body ends short or runs past it, or
 * with a ServerDiskError if the disk fails under it (full, before SPOOL_MAX_BYTES is reached: the
 * file is sparse until its parts are written). `body` (the request) is not destroyed when the
 * write fails, so that its answer can still be sent.
 */
export async function writeFolderPart(row: { location: string; fileSize: number; partSize: number }, n: number, body: Readable): Promise<void> {
  const length = partLength(row.fileSize, row.partSize, n);
  let written = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      written += chunk.length;
      if (written > length) { done(new PartSizeError(`part ${n} is longer than its ${length} bytes`)); return; }
      done(null, chunk);
    },
  });
  // The body breaking off (the client gone) fails the write; the write failing leaves the body be.
  const stopWatching = finished(body, (err) => { if (err) count.destroy(err); });
  body.pipe(count);
  try {
    await onDisk(row.location, () => pipeline(count, fs.createWriteStream(row.location, { flags: 'r+', start: partOffset(row.partSize, n) })));
  } finally {
    stopWatching();
    body.unpipe(count);
  }
  if (written !== length) throw new PartSizeError(`part ${n} ended after ${written} of its ${length} bytes`);
}
