/**
 * Streams an upload into an S3 spool's object: the bytes go to the hash thread (fileHashes.ts),
 * which hashes them, checks they are UTF-8 and writes them into the object as a multipart upload
 * of a few reused part buffers (objectUpload.ts), so memory stays bounded whatever the file's size
 * and the store's requests stay off the main thread. Its first bytes are kept here for inspection
 * as they pass. The size limit and the spool's room are enforced as for a folder spool.
 *
 * A failure is the request's, with nothing left behind: the client's stream breaking off is an
 * UploadStreamError (the client's fault, as for a folder spool), the store failing a
 * SpoolStoreError (a 503: try again); either way the multipart upload is aborted and the object
 * removed, tried again for a few seconds if the store is away; past that the sweep (s3Spool.ts)
 * and the bucket's lifecycle rule for incomplete multipart uploads clear what is left.
 */
import { Writable, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Logger } from '../logger.js';
import { isTransientStoreError, retryDelayMs } from '../parse/transientStoreErrors.js';
import { hashWhileSent, HashThreadError, type FileDigest } from './fileHashes.js';
import { removeUploadLeftovers, type S3Spool } from './s3Spool.js';
import { FileRefusal, sourceFailure, type SpoolRoom } from './spool.js';
import type { Utf8Break } from './utf8Check.js';

/** How long a failed upload's leftovers are tried to be removed before the sweep is left to do it. */
const CLEANUP_FOR_MS = 10_000;

export type S3SpoolResult =
  | { ok: true; location: string; size: number; sha256: string; notUtf8: Utf8Break | null; head: Buffer }
  | { ok: false; code: 'FILE_TOO_LARGE' | 'SPOOL_FULL' }
  | { ok: false; code: 'INVALID_FILE' | 'FILE_TOO_LARGE' | 'SPOOL_FULL'; message: string };

/** The S3 store failed while an upload was written to it: the server's condition, not the client's. */
export class SpoolStoreError extends Error {
  constructor(cause: unknown) {
    super('The upload store is unavailable for a moment; try again shortly', { cause });
  }
}

class PastLimit extends Error {
  constructor(readonly code: 'FILE_TOO_LARGE' | 'SPOOL_FULL') { super(code); }
}

export async function spoolToS3(source: Readable, spool: S3Spool, key: string, opts: { maxBytes: number; room?: SpoolRoom; roomStep: number; headBytes: number; log?: Logger }): Promise<S3SpoolResult> {
  const hash = hashWhileSent({ endpoint: spool.endpoint, region: spool.region, bucket: spool.bucket, key });
  const head: Buffer[] = [];
  let headKept = 0;
  let size = 0;
  /** Hands the chunk to the hash thread (and so to the store); done once the thread is not too far behind. */
  const keep = (chunk: Buffer, done: (err?: Error | null) => void) => {
    if (headKept < opts.headBytes) { head.push(Buffer.from(chunk.subarray(0, opts.headBytes - headKept))); headKept += head.at(-1)!.length; }
    let behind: Promise<void> | undefined;
    try {
      behind = hash.add(chunk);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (behind) behind.then(() => done(), done);
    else done();
  };
  const count = new Writable({
    write(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > opts.maxBytes) { done(new PastLimit('FILE_TOO_LARGE')); return; }
      if (!opts.room || size <= opts.room.allowed) { keep(chunk, done); return; }
      opts.room.grow(Math.min(opts.maxBytes, size + opts.roomStep)).then(
        (granted) => { if (!granted) { done(new PastLimit('SPOOL_FULL')); return; } keep(chunk, done); },
        (err: Error) => done(err),
      );
    },
  });
  // The upload's own stream may have failed before we listened (while the tenant's limit was checked).
  let sourceError = (source.errored as Error | null) ?? null;
  source.once('error', (err) => { sourceError = err; count.destroy(err); });
  if (sourceError) count.destroy(sourceError);
  else source.pipe(count);
  let digest: FileDigest;
  try {
    await finished(count);
    // The object is complete once the digest is in.
    digest = await hash.digest();
  } catch (err) {
    source.unpipe(count);
    // The thread gives its multipart upload up first (its parts in flight settled), then we remove whatever is left.
    await hash.drop();
    await removeLeftovers(spool, key, opts.log);
    const limit = [err, count.errored].find((e): e is PastLimit => e instanceof PastLimit);
    if (limit) return { ok: false, code: limit.code };
    // The file as decoded on its way in (fileDecoding.ts) refused: the client's file, not its stream.
    if (sourceError instanceof FileRefusal) return { ok: false, code: sourceError.code, message: sourceError.message };
    if (sourceError) throw sourceFailure(sourceError);
    // The hash thread's own failure is the server's, not the store's moment away: not a 503 "try again".
    if (err instanceof HashThreadError) throw err;
    throw new SpoolStoreError(err);
  }
  const { sha256, notUtf8 } = digest;
  return { ok: true, location: `s3://${spool.bucket}/${key}`, size, sha256, notUtf8, head: Buffer.concat(head) };
}

/** Aborts the key's multipart upload and removes its object (a completion whose answer was lost), trying again while the store is away. */
async function removeLeftovers(spool: S3Spool, key: string, log: Logger | undefined): Promise<void> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await removeUploadLeftovers(spool, key);
      return;
    } catch (err) {
      if (!isTransientStoreError(err) || Date.now() - started > CLEANUP_FOR_MS) {
        log?.warn({ err, key }, 'could not remove a failed upload from the store; the sweep will');
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs(attempt)));
    }
  }
}
