/**
 * The parse thread: reads one job's spool file from its checkpoint, checks every row and turns
 * the valid ones into COPY text, batch by batch, off the main thread so that the event loop
 * serving GraphQL stays responsive and parsing runs on one core while Postgres COPYs on the other.
 *
 * Protocol (see parsedBatches.ts): the main thread grants credits ('more'); the thread sends one
 * 'batch' per credit, its COPY text in a transferred buffer, then 'done' or 'error'.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readCsv } from '../imports/formats/csvReader.js';
import { readNdjson } from '../imports/formats/ndjsonReader.js';
import { getKind } from '../imports/kinds/index.js';
import { createRowPipeline } from '../imports/rowPipeline.js';
import type { ParseRequest, ParseThreadMessage } from './parsedBatches.js';

const request = workerData as ParseRequest;
const port = parentPort!;
let credits = 0;
let wake: (() => void) | null = null;
port.on('message', (msg: 'more') => {
  if (msg === 'more') { credits++; wake?.(); }
});

const send = (message: ParseThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/** The text as UTF-8 in a non-pooled buffer of its own, whose memory can move to the main thread without a copy. */
function transferable(text: string): ArrayBuffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes.buffer as ArrayBuffer;
}

async function run(): Promise<void> {
  const pipeline = createRowPipeline({ ...request, kind: getKind(request.kind), startOffset: request.offset });
  const from = { path: request.path, offset: request.offset, line: request.line, batchSize: request.batchSize };
  const batches = request.format === 'CSV' ? readCsv({ ...from, skipHeader: request.offset === 0 }) : readNdjson(from);
  for await (const batch of batches) {
    const prepared = pipeline.prepare(batch);
    const copyData = transferable(prepared.copyCsv);
    const keyedData = transferable(prepared.keyedCsv);
    while (credits === 0) await new Promise<void>((resolve) => { wake = resolve; });
    credits--;
    send({ type: 'batch', batch: { ...prepared, copyCsv: '', keyedCsv: '' }, copyData, keyedData }, [copyData, keyedData]);
  }
  send({ type: 'done' });
}

run().catch((err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }));
