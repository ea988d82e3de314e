/**
 * A file's bytes from an offset, chunk by chunk, each next chunk read while the one before is
 * framed (as a read stream reads ahead). With `reuse`, chunks are read into a few buffers that
 * serve again once nothing still needs their bytes, instead of a new buffer per chunk: a new
 * megabyte buffer is memory the kernel maps afresh (MALLOC_MMAP_THRESHOLD_), and mapping fresh
 * memory for every chunk was most of the kernel time that parsing spent (docs/performance.md).
 */
import fs from 'node:fs/promises';
import { isObjectLocation, openObjectChunks } from './objectChunks.js';
import type { StoreReadOptions } from './types.js';

/** Chunk buffers kept for reuse; a chunk that finds them all still needed gets a buffer of its own. */
const REUSED_BUFFERS = 3;

/**
 * A few buffers of one size that serve again once `mayReuse` says nothing needs their bytes any
 * more (the readers' read buffers, and the CSV reader's joins of a record split between chunks).
 */
export class ReusedBuffers {
  private readonly kept: Buffer[] = [];

  constructor(private readonly bytes: number, private readonly max: number, private readonly mayReuse: (buffer: ArrayBufferLike) => boolean) {}

  /**
   * A buffer of at least `n` bytes, other than `except`: a kept one free to reuse, or a new one,
   * kept while fewer than `max` are (one larger than the kept size is not kept).
   */
  take(n = this.bytes, except?: ArrayBufferLike): Buffer {
    for (const b of this.kept) if (b.length >= n && b.buffer !== except && this.mayReuse(b.buffer)) return b;
    const b = Buffer.allocUnsafeSlow(Math.max(n, this.bytes));
    if (b.length === this.bytes && this.kept.length < this.max) this.kept.push(b);
    return b;
  }
}

export interface ChunkReader {
  /** The next chunk, or null at the end of the file. */
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
}

export async function openChunks(opts: {
  path: string; offset: number; chunkBytes: number; signal?: AbortSignal;
  /**
   * Asked, as a chunk is to be read, of each kept buffer but the one being framed: may it be read
   * over? Without it, every chunk gets a new buffer.
   */
  reuse?: (buffer: ArrayBufferLike) => boolean;
  store?: StoreReadOptions;
}): Promise<ChunkReader> {
  const buffers = opts.reuse ? new ReusedBuffers(opts.chunkBytes, REUSED_BUFFERS, opts.reuse) : null;
  // An S3 spool's object: ranged GETs (the folder spool's files take the path below, unchanged).
  if (isObjectLocation(opts.path)) {
    return openObjectChunks({
      location: opts.path, offset: opts.offset, chunkBytes: opts.chunkBytes, signal: opts.signal, ...opts.store,
      take: buffers ? (framing) => buffers.take(opts.chunkBytes, framing?.buffer) : undefined,
    });
  }
  const handle = await fs.open(opts.path, 'r');
  let position = opts.offset;
  let ended = false;

  const read = async (framing: Buffer | null): Promise<Buffer | null> => {
    if (ended) return null;
    opts.signal?.throwIfAborted();
    const b = buffers ? buffers.take(opts.chunkBytes, framing?.buffer) : Buffer.allocUnsafeSlow(opts.chunkBytes);
    const { bytesRead } = await handle.read(b, 0, b.length, position);
    if (bytesRead === 0) { ended = true; return null; }
    position += bytesRead;
    return b.subarray(0, bytesRead);
  };

  let ahead: Promise<Buffer | null> | null = null;
  return {
    async next() {
      const chunk = await (ahead ?? read(null));
      // The chunk after it is read meanwhile, into a buffer other than this chunk's.
      ahead = chunk ? read(chunk) : null;
      ahead?.catch(() => {}); // its failure is reported when it is taken
      return chunk;
    },
    async close() {
      await ahead?.catch(() => {});
      await handle.close();
    },
  };
}
