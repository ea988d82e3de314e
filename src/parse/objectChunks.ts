/**
 * An S3 spool object's bytes from an offset (a ranged GET), in chunks of `chunkBytes` as
 * fileChunks.ts reads a file, so the readers frame them alike. Runs in the parse thread: it needs
 * only the store (S3_ENDPOINT and the SDK's usual credentials), never the database.
 *
 * The store may go away under a long read (restarted, the network blinked, its connection
 * dropped): the read then goes on with a new ranged GET from the first byte not yet received,
 * with backoff, as a batch is retried when the database goes away (db/transientErrors.ts). The
 * job waits meanwhile (its runner keeps the lease), and gives up only after `retryForMs`.
 */
import type { Readable } from 'node:stream';
import { storeClientConfig, storeRegion } from './storeClient.js';
import { isTransientStoreError, retryDelayMs } from './transientStoreErrors.js';

/** s3://bucket/key, the location an S3 spool gives a job's upload. */
export const isObjectLocation = (location: string) => location.startsWith('s3://');

export function splitObjectLocation(location: string): { bucket: string; key: string } {
  const rest = location.slice('s3://'.length);
  const slash = rest.indexOf('/');
  return { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

export interface StoreRetry { attempt: number; delayMs: number; error: string }

export interface ObjectChunksOptions {
  location: string;
  offset: number;
  chunkBytes: number;
  signal?: AbortSignal;
  /** How long reads are retried after the first failure of a run of them (default: a minute). */
  retryForMs?: number;
  onRetry?: (retry: StoreRetry) => void;
  /** A buffer to read the next chunk into, other than the one being framed; without it, a new one per chunk. */
  take?: (framing: Buffer | null) => Buffer;
}

const statusOf = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

export async function openObjectChunks(opts: ObjectChunksOptions): Promise<{ next(): Promise<Buffer | null>; close(): Promise<void> }> {
  const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
  const endpoint = process.env.S3_ENDPOINT || undefined;
  const client = new S3Client(storeClientConfig(endpoint, storeRegion()));
  const { bucket, key } = splitObjectLocation(opts.location);
  const retryForMs = opts.retryForMs ?? 60_000;
  /** The first byte not yet received: where a new GET starts. */
  let position = opts.offset;
  let body: Readable | null = null;
  let parts: AsyncIterator<Buffer> | null = null;
  let atEnd = false;

  const open = async () => {
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${position}-` }), { abortSignal: opts.signal });
      body = got.Body as Readable;
      parts = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    } catch (err) {
      // A position at the very end of the object: nothing left to read.
      if (statusOf(err) !== 416) throw err;
      atEnd = true;
    }
  };

  /** The next piece of the body, or null at its end; a broken read goes on from `position`. */
  const nextPart = async (): Promise<Buffer | null> => {
    let firstFailure: number | null = null;
    for (let attempt = 1; ; attempt++) {
      try {
        if (!parts && !atEnd) await open();
        if (atEnd) return null;
        const part = await parts!.next();
        if (part.done) { atEnd = true; return null; }
        position += part.value.length;
        return part.value;
      } catch (err) {
        body?.destroy();
        body = null;
        parts = null;
        firstFailure ??= Date.now();
        if (opts.signal?.aborted || !isTransientStoreError(err) || Date.now() - firstFailure > retryForMs) throw err;
        const delayMs = retryDelayMs(attempt);
        opts.onRetry?.({ attempt, delayMs, error: (err as Error).message || (err as Error).name });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
  };

  let carry: Buffer | null = null;
  let ended = false;
  let framing: Buffer | null = null;
  return {
    async next() {
      opts.signal?.throwIfAborted();
      const chunk = opts.take ? opts.take(framing) : Buffer.allocUnsafeSlow(opts.chunkBytes);
      let filled = 0;
      while (filled < chunk.length) {
        if (!carry) {
          if (ended) break;
          carry = await nextPart();
          if (!carry) { ended = true; break; }
        }
        const n = carry.copy(chunk, filled);
        filled += n;
        carry = n < carry.length ? carry.subarray(n) : null;
      }
      framing = filled === 0 ? null : chunk.subarray(0, filled);
      return framing;
    },
    async close() {
      body?.destroy();
      client.destroy();
    },
  };
}
