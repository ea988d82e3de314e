/**
 * COPY data to the Postgres socket as it is, without postgres.js's copy of it.
 *
 * postgres.js (3.4.9) frames every chunk written to a COPY's writable into a new buffer, its
 * 5-byte message header followed by the chunk (`Buffer.concat`): as many bytes of new buffers as
 * the import has COPY data. The copying is cheap; the allocations are not. Each is memory outside
 * V8's heap, and V8 answers that much of it with full mark-compacts ("external memory pressure"),
 * dozens per import, which with the copies took a noticeable share of the server's CPU
 * (docs/performance.md).
 *
 * So a batch's COPY data goes through postgres.js as a 16-byte stand-in, framed like any chunk,
 * and the socket, which we open ourselves (postgres.ts), swaps the stand-in for the header and the
 * data itself as it passes: two writes, corked into one. A stand-in the socket never saw (the COPY
 * failed first) is forgotten by `release`, so the data it held is not kept.
 */
import { randomBytes } from 'node:crypto';
import type net from 'node:net';

const COPY_DATA = 0x64; // 'd'
const HEADER_BYTES = 5; // type byte + int32 length (which counts itself)
const STAND_IN_BYTES = 16;
/** Below this, the data goes the usual way: the stand-in would save nothing. */
export const PASS_THROUGH_MIN_BYTES = 64 * 1024;

/** The first 8 stand-in bytes: random per process, so no real COPY data is mistaken for a stand-in by chance. */
const MAGIC = randomBytes(8);
const waiting = new Map<number, Uint8Array>();
let lastId = 0;

export interface StandIn { chunk: Buffer; release(): void }

/** A stand-in for `data`, to write to the COPY's writable instead of it. */
export function standInFor(data: Uint8Array): StandIn {
  const id = ++lastId;
  waiting.set(id, data);
  const chunk = Buffer.alloc(STAND_IN_BYTES);
  MAGIC.copy(chunk, 0);
  chunk.writeDoubleBE(id, 8);
  return { chunk, release: () => { waiting.delete(id); } };
}

/** How many stand-ins wait for their socket (for tests: none once every COPY has ended). */
export const standInsWaiting = () => waiting.size;

type WriteCallback = (err?: Error | null) => void;

/** Makes `socket` send the data a stand-in stands for when a CopyData message holding one is written to it. */
export function passCopyDataThrough(socket: net.Socket): void {
  const original = socket.write;
  const write = original.bind(socket) as (chunk: Uint8Array, cb?: WriteCallback) => boolean;
  socket.write = function writeStandingIn(this: net.Socket, chunk: unknown, encodingOrCallback?: unknown, callback?: unknown) {
    const data = chunk instanceof Uint8Array && chunk.length === HEADER_BYTES + STAND_IN_BYTES && chunk[0] === COPY_DATA ? stoodFor(chunk) : undefined;
    if (!data) return (original as (...args: unknown[]) => boolean).call(this, chunk, encodingOrCallback, callback);
    const done = (typeof encodingOrCallback === 'function' ? encodingOrCallback : callback) as WriteCallback | undefined;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header[0] = COPY_DATA;
    header.writeUInt32BE(data.length + 4, 1);
    socket.cork();
    write(header);
    const ok = write(data, done);
    socket.uncork();
    return ok;
  } as typeof socket.write;
}

/** The data a CopyData message's stand-in stands for, taken out of the waiting list; undefined when it holds none. */
function stoodFor(message: Uint8Array): Uint8Array | undefined {
  const view = new DataView(message.buffer, message.byteOffset, message.length);
  if (view.getUint32(1) !== 4 + STAND_IN_BYTES) return undefined;
  for (let i = 0; i < MAGIC.length; i++) if (message[HEADER_BYTES + i] !== MAGIC[i]) return undefined;
  const id = view.getFloat64(HEADER_BYTES + 8);
  const data = waiting.get(id);
  waiting.delete(id);
  return data;
}
