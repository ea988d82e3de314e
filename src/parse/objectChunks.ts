/**
 * An S3 spool object's bytes from an offset (a ranged GET), in chunks of `chunkBytes` as
 * fileChunks.ts reads a file, so the readers frame them alike. Runs in the parse thread: it needs
 * only the store (S3_ENDPOINT and the SDK's usual credentials), never the database.
 */
import type { Readable } from 'node:stream';

/** s3://bucket/key, the location an S3 spool gives a job's upload. */
export const isObjectLocation = (location: string) => location.startsWith('s3://');

export function splitObjectLocation(location: string): { bucket: string; key: string } {
  const rest = location.slice('s3://'.length);
  const slash = rest.indexOf('/');
  return { bucket: rest.slice(0, slash), key: rest.slice(slash + 1) };
}

export async function openObjectChunks(opts: { location: string; offset: number; chunkBytes: number; signal?: AbortSignal }): Promise<{ next(): Promise<Buffer | null>; close(): Promise<void> }> {
  const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3');
  const endpoint = process.env.S3_ENDPOINT || undefined;
  const client = new S3Client({ ...(endpoint ? { endpoint, forcePathStyle: true } : {}), region: process.env.AWS_REGION || 'us-east-1' });
  const { bucket, key } = splitObjectLocation(opts.location);
  let body: Readable | null = null;
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${opts.offset}-` }), { abortSignal: opts.signal });
    body = got.Body as Readable;
  } catch (err) {
    // A checkpoint at the very end of the object: nothing left to read.
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 416) { client.destroy(); throw err; }
  }
  const parts = body?.[Symbol.asyncIterator]() as AsyncIterator<Buffer> | undefined;
  let carry: Buffer | null = null;
  let ended = !parts;
  return {
    async next() {
      opts.signal?.throwIfAborted();
      const chunk = Buffer.allocUnsafeSlow(opts.chunkBytes);
      let filled = 0;
      while (filled < chunk.length) {
        if (!carry) {
          if (ended) break;
          const part = await parts!.next();
          if (part.done) { ended = true; break; }
          carry = part.value;
        }
        const n = carry.copy(chunk, filled);
        filled += n;
        carry = n < carry.length ? carry.subarray(n) : null;
      }
      return filled === 0 ? null : chunk.subarray(0, filled);
    },
    async close() {
      body?.destroy();
      client.destroy();
    },
  };
}
