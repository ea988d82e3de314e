/**
 * The main thread's side of the parse thread: an async iterator of prepared batches, with at most
 * SLOTS batches parsed and not yet committed (bounded memory, and parsing overlaps the commit).
 * Ending the iteration early terminates the thread.
 *
 * A batch's COPY data travels in shared memory: the thread writes it into one of SLOTS slots of a
 * SharedArrayBuffer, and the slot goes back to the thread when the consumer releases the batch
 * (after its commit). So no buffer is allocated, transferred and left for the main thread's
 * garbage collector per batch: together as large as the import's COPY data, and collected only
 * when V8 got round to it. A batch larger than a slot (rows of megabytes) travels in buffers of
 * its own.
 */
import type { ImportFormat } from './types.js';
import type { ColumnMappingEntry } from '../kinds/columnMapping.js';
import type { CopyEncoding } from './copyData.js';
import type { PreparedBatch } from './rowPipeline.js';
import { startThread } from '../threads/startThread.js';
import type { StoreRetry } from './objectChunks.js';

export interface ParseRequest {
  path: string;
  offset: number;
  line: number;
  format: ImportFormat;
  header: string[] | null;
  /** CSV: the delimiter (a comma when null) and the column mapping applied to the header. */
  delimiter?: string | null;
  columnMapping?: ColumnMappingEntry[] | null;
  kind: string;
  tenantId: string;
  jobId: string;
  batchSize: number;
  /** Values of the kind's jobColumns. */
  jobValues: Record<string, string | null>;
  copy: CopyEncoding;
  /** An S3 spool object's read broken off by the store is retried for this long (parse/objectChunks.ts). */
  storeRetryMs: number;
}

/** What the thread is given besides the request: the shared slots. */
export interface ParseThreadData { request: ParseRequest; slots: SharedArrayBuffer; slotBytes: number }

/** The thread's messages. Main to thread: a slot number, free to fill. */
export type ParseThreadMessage =
  /** COPY data in `slot` (copyBytes, then keyedBytes), or, when it did not fit, in its own buffers. */
  | { type: 'batch'; batch: PreparedBatch; slot: number; copyBytes: number; keyedBytes: number; ownBuffers?: { copyData: ArrayBuffer; keyedData: ArrayBuffer } }
  /** A read of the S3 store failed and is tried again after `delayMs`. */
  | ({ type: 'storeRetry' } & StoreRetry)
  | { type: 'done' }
  | { type: 'error'; message: string };

export interface ParsedBatch extends PreparedBatch {
  copyData: Buffer;
  keyedData: Buffer;
  /** Gives the batch's memory back to the parse thread: call once its COPY data is no longer needed (after the commit). */
  release(): void;
}

/**
 * The batches being committed (jobRunner.ts COMMITS_IN_FLIGHT: 2), and one parsed meanwhile. A
 * fourth, parsed further ahead, added nothing to speed and a slot's worth of peak RSS
 * (docs/performance.md).
 */
const SLOTS = 3;
/**
 * Room for a default batch (BATCH_SIZE) of events rows as binary COPY data, with a little to spare
 * (docs/performance.md); a batch that does not fit travels in buffers of its own. Only the bytes
 * a batch fills become resident memory.
 */
const SLOT_BYTES = 8 << 20;
/**
 * Slot memory a finished job leaves for the next, instead of to the garbage collector. A job's
 * SharedArrayBuffer is freed only once V8 collects it (a full GC), and until then the next job's
 * came on top: the server's RSS grew import after import, by the dead jobs' slot memory, until a
 * full collection came (docs/performance.md).
 * At most MAX_IDLE_SLOT_MEMORY are kept (two jobs run at once by default, WORKER_CONCURRENCY);
 * more are left to the collector.
 */
const idleSlotMemory: SharedArrayBuffer[] = [];
const MAX_IDLE_SLOT_MEMORY = 4;

export async function* parseInThread(request: ParseRequest, onStoreRetry?: (retry: StoreRetry) => void): AsyncGenerator<ParsedBatch> {
  const slots = idleSlotMemory.pop() ?? new SharedArrayBuffer(SLOTS * SLOT_BYTES);
  const workerData: ParseThreadData = { request, slots, slotBytes: SLOT_BYTES };
  // A young generation large enough that a slice's short-lived records die young instead of
  // being promoted (parseThread.ts reads in slices), and no larger: a larger one parsed no faster
  // and cost resident memory; a smaller one parsed more slowly (docs/performance.md).
  const worker = startThread('./parseThread', import.meta.url, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 16 } });
  const inbox: Exclude<ParseThreadMessage, { type: 'storeRetry' }>[] = [];
  let failure: Error | null = null;
  let exited = false;
  let notify: (() => void) | null = null;
  const poke = () => { notify?.(); notify = null; };
  worker.on('message', (m: ParseThreadMessage) => {
    if (m.type === 'storeRetry') { onStoreRetry?.(m); return; }
    inbox.push(m);
    poke();
  });
  worker.on('error', (err) => { failure = err; poke(); });
  worker.on('exit', () => { exited = true; poke(); });
  // The slot memory goes back for the next job only once the thread has ended and every batch
  // it gave out is released: a batch not yet committed still reads its COPY data from it.
  let unreleased = 0;
  let ended = false;
  let kept = false;
  const keepSlotMemory = () => {
    if (!ended || unreleased > 0 || kept) return;
    kept = true;
    if (idleSlotMemory.length < MAX_IDLE_SLOT_MEMORY) idleSlotMemory.push(slots);
  };
  try {
    for (let slot = 0; slot < SLOTS; slot++) worker.postMessage(slot);
    for (;;) {
      while (inbox.length === 0 && !failure && !exited) await new Promise<void>((resolve) => { notify = resolve; });
      const message = inbox.shift();
      if (!message) throw failure ?? new Error('the parse thread stopped unexpectedly');
      if (message.type === 'done') return;
      if (message.type === 'error') throw new Error(message.message);
      const { slot, copyBytes, keyedBytes, ownBuffers } = message;
      const at = slot * SLOT_BYTES;
      let released = false;
      unreleased++;
      yield {
        ...message.batch,
        copyData: ownBuffers ? Buffer.from(ownBuffers.copyData) : Buffer.from(slots, at, copyBytes),
        keyedData: ownBuffers ? Buffer.from(ownBuffers.keyedData) : Buffer.from(slots, at + copyBytes, keyedBytes),
        release: () => {
          if (released) return;
          released = true;
          unreleased--;
          if (!exited) worker.postMessage(slot);
          keepSlotMemory();
        },
      };
    }
  } finally {
    await worker.terminate();
    ended = true;
    keepSlotMemory();
  }
}
