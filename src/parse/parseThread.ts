/**
 * The parse thread: reads one job's spool file from its checkpoint, checks every row and turns
 * the valid ones into COPY data, batch by batch, off the main thread so that the event loop
 * serving GraphQL stays responsive and parsing runs on one core while Postgres COPYs on the other.
 *
 * Protocol (see parsedBatches.ts): the main thread gives slots of shared memory; the thread fills
 * one slot per 'batch' with its COPY data, then sends 'done' or 'error'.
 *
 * A commit batch (request.batchSize rows) is read and checked in slices of SLICE_ROWS records,
 * each slice's rows encoded into the batch's COPY data at once. So only one slice's records (their
 * text, fields, parsed JSON) are alive at a time: they die young, in the cheap scavenges, instead
 * of surviving into the old generation as a whole batch's records did. NDJSON parsing is much
 * faster so, and the thread's heap stays small (docs/performance.md).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readCsv } from './csvReader.js';
import { readNdjson } from './ndjsonReader.js';
import { getKind } from '../kinds/index.js';
import { createRowPipeline, type PreparedBatch } from './rowPipeline.js';
import type { ParseThreadData, ParseThreadMessage } from './parsedBatches.js';
import type { StoreRetry } from './objectChunks.js';
import { runAsBulkWork } from '../threads/threadPriority.js';

const SLICE_ROWS = 500;

const { request, slots, slotBytes } = workerData as ParseThreadData;
/**
 * A batch's COPY data ends past this many bytes, however few rows it has, so that it still fits a
 * slot of shared memory after the slice that crossed the line (a 16th of the slot spare).
 */
const BATCH_COPY_BYTES = slotBytes - slotBytes / 16;
const port = parentPort!;
/** Slots of the shared memory the main thread has given back, free to fill (see parsedBatches.ts). */
const freeSlots: number[] = [];
let wake: (() => void) | null = null;
port.on('message', (slot: number) => {
  freeSlots.push(slot);
  wake?.();
});

const send = (message: ParseThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/**
 * How a slice's counts add to the slices before it, field by field (their COPY data builds up
 * in the pipeline). Every field of PreparedBatch needs a rule here (the mapped type makes a new
 * field a type error until it has one), so a field added to PreparedBatch is never dropped on its
 * way to the commit.
 */
const ADD: { [K in keyof PreparedBatch]-?: (sum: PreparedBatch[K], slice: PreparedBatch[K]) => PreparedBatch[K] } = {
  rowsKeyed: (a, b) => a + b,
  rowsValid: (a, b) => a + b,
  rowsFailed: (a, b) => a + b,
  rowsProcessed: (a, b) => a + b,
  errors: (a, b) => (b.length ? a.concat(b) : a),
  upsertRows: (a, b) => (b.length ? a.concat(b) : a),
  startOffset: (a) => a, // the first slice's start is the batch's: the checkpoint it follows
  endOffset: (_, b) => b,
  endLine: (_, b) => b,
};

function addSlice(sum: PreparedBatch, slice: PreparedBatch): PreparedBatch {
  const out = { ...sum } as Record<string, unknown>;
  for (const key of Object.keys(ADD) as (keyof PreparedBatch)[]) out[key] = (ADD[key] as (a: unknown, b: unknown) => unknown)(sum[key], slice[key]);
  return out as unknown as PreparedBatch;
}

/** A copy in memory of its own, to transfer. */
function ownCopy(bytes: Buffer): ArrayBuffer {
  const out = new ArrayBuffer(bytes.length);
  new Uint8Array(out).set(bytes);
  return out;
}

async function run(): Promise<void> {
  const pipeline = createRowPipeline({ ...request, kind: getKind(request.kind), startOffset: request.offset });
  // An S3 store that breaks off a read is retried here, and the main thread told (it logs it).
  const store = { retryForMs: request.storeRetryMs, onRetry: (retry: StoreRetry) => send({ type: 'storeRetry', ...retry }) };
  const from = { path: request.path, offset: request.offset, line: request.line, batchSize: Math.min(SLICE_ROWS, request.batchSize), store };
  const slices = request.format === 'CSV' ? readCsv({ ...from, skipHeader: request.offset === 0, delimiter: request.delimiter ?? ',', decode: false, reuseBuffers: true }) : readNdjson({ ...from, decode: false, reuseBuffers: true });
  let batch: PreparedBatch | null = null;
  // A job is bulk work once it has more than one batch (a resumed one has had some already): a
  // small file (another tenant's, waiting while big imports hold the cores) is read at the
  // server's own priority, start to end.
  let bulkWork = request.offset > 0;
  if (bulkWork) runAsBulkWork();

  const flush = async () => {
    if (!batch) return;
    while (freeSlots.length === 0) await new Promise<void>((resolve) => { wake = resolve; });
    const slot = freeSlots.shift()!;
    const { copyData, keyedData } = pipeline.takeCopyData();
    const copyBytes = copyData.length;
    const keyedBytes = keyedData.length;
    if (copyBytes + keyedBytes <= slotBytes) {
      const memory = new Uint8Array(slots, slot * slotBytes, slotBytes);
      memory.set(copyData, 0);
      memory.set(keyedData, copyBytes);
      send({ type: 'batch', batch, slot, copyBytes, keyedBytes });
    } else {
      const ownBuffers = { copyData: ownCopy(copyData), keyedData: ownCopy(keyedData) };
      send({ type: 'batch', batch, slot, copyBytes, keyedBytes, ownBuffers }, [ownBuffers.copyData, ownBuffers.keyedData]);
    }
    batch = null;
    if (!bulkWork) { runAsBulkWork(); bulkWork = true; }
  };

  for await (const slice of slices) {
    const counts = pipeline.prepare(slice);
    batch = batch ? addSlice(batch, counts) : counts;
    // A batch ends at batchSize rows, or sooner when its rows are wide: its COPY data, three
    // batches of it at once (parsedBatches.ts), is what the import holds in memory.
    if (batch.rowsProcessed >= request.batchSize || pipeline.copyBytes() >= BATCH_COPY_BYTES) await flush();
  }
  // The last batch, also when empty: its end offset moves the checkpoint past trailing blank lines.
  if (batch) await flush();
  send({ type: 'done' });
}

run().catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
