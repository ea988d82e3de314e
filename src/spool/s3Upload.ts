/**
 * Streams an upload into an S3 spool's object as a multipart upload (@aws-sdk/lib-storage: a few
 * parts in flight, so memory stays bounded whatever the file's size), hashing it and keeping its
 * first bytes for inspection as it passes. The size limit and the spool's room are enforced as
 * for a folder spool; on any error the multipart upload is aborted, so nothing is left behind.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Spool } from './s3Spool.js';
import { FileRefusal, type SpoolRoom } from './spool.js';
import { Utf8Check, type Utf8Break } from './utf8Check.js';

const PART_BYTES = 8 << 20;
/** Parts uploading at once: the memory an upload holds is about this many parts, plus one being filled. */
const PARTS_IN_FLIGHT = 2;

export type S3SpoolResult =
  | { ok: true; location: string; size: number; sha256: string; notUtf8: Utf8Break | null; head: Buffer }
  | { ok: false; code: 'FILE_TOO_LARGE' | 'SPOOL_FULL' }
  | { ok: false; code: 'INVALID_FILE' | 'FILE_TOO_LARGE'; message: string };

class PastLimit extends Error {
  constructor(readonly code: 'FILE_TOO_LARGE' | 'SPOOL_FULL') { super(code); }
}

export async function spoolToS3(source: Readable, spool: S3Spool, key: string, opts: { maxBytes: number; room?: SpoolRoom; roomStep: number; headBytes: number }): Promise<S3SpoolResult> {
  const hash = createHash('sha256');
  const utf8 = new Utf8Check();
  const head: Buffer[] = [];
  let headKept = 0;
  let size = 0;
  const keep = (chunk: Buffer) => {
    hash.update(chunk);
    utf8.feed(chunk);
    if (headKept < opts.headBytes) { head.push(chunk.subarray(0, opts.headBytes - headKept)); headKept += head.at(-1)!.length; }
  };
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > opts.maxBytes) { done(new PastLimit('FILE_TOO_LARGE')); return; }
      if (!opts.room || size <= opts.room.allowed) { keep(chunk); done(null, chunk); return; }
      opts.room.grow(Math.min(opts.maxBytes, size + opts.roomStep)).then(
        (granted) => { if (!granted) { done(new PastLimit('SPOOL_FULL')); return; } keep(chunk); done(null, chunk); },
        (err: Error) => done(err),
      );
    },
  });
  source.once('error', (err) => count.destroy(err));
  source.pipe(count);
  const upload = new Upload({
    client: spool.client,
    params: { Bucket: spool.bucket, Key: key, Body: count },
    partSize: PART_BYTES,
    queueSize: PARTS_IN_FLIGHT,
    leavePartsOnError: false,
  });
  try {
    await upload.done();
  } catch (err) {
    source.unpipe(count);
    if (err instanceof PastLimit) return { ok: false, code: err.code };
    const cause = (count.errored ?? null) as Error | null;
    if (cause instanceof PastLimit) return { ok: false, code: cause.code };
    if (cause instanceof FileRefusal) return { ok: false, code: cause.code, message: cause.message };
    throw cause ?? err;
  }
  return { ok: true, location: `s3://${spool.bucket}/${key}`, size, sha256: hash.digest('hex'), notUtf8: utf8.finish(), head: Buffer.concat(head) };
}
