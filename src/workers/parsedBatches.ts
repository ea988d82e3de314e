/**
 * The main thread's side of the parse thread: an async iterator of prepared batches, with at most
 * READ_AHEAD batches parsed ahead of the one being committed (bounded memory, and parsing overlaps
 * the commit). Ending the iteration early terminates the thread.
 */
import { Worker } from 'node:worker_threads';
import type { ImportFormat } from '../imports/formats/types.js';
import type { CopyEncoding } from '../imports/copyData.js';
import type { PreparedBatch } from '../imports/rowPipeline.js';

export interface ParseRequest {
  path: string;
  offset: number;
  line: number;
  format: ImportFormat;
  header: string[] | null;
  kind: string;
  tenantId: string;
  jobId: string;
  batchSize: number;
  /** Values of the kind's jobColumns. */
  jobValues: Record<string, string | null>;
  copy: CopyEncoding;
}

export type ParseThreadMessage =
  | { type: 'batch'; batch: PreparedBatch; copyData: ArrayBuffer; keyedData: ArrayBuffer }
  | { type: 'done' }
  | { type: 'error'; message: string };

export interface ParsedBatch extends PreparedBatch { copyData: Buffer; keyedData: Buffer }

const READ_AHEAD = 2;
/**
 * Compiled (dist/), the thread runs parseThread.js itself; under tsx, a worker thread does not
 * inherit the loader, so it boots through a small module that registers it first.
 */
const BOOT = import.meta.url.endsWith('.ts')
  ? new URL('./parseThread.boot.mjs', import.meta.url)
  : new URL('./parseThread.js', import.meta.url);

export async function* parseInThread(request: ParseRequest): AsyncGenerator<ParsedBatch> {
  // A young generation large enough that a slice's short-lived records die young instead of
  // being promoted (parseThread.ts reads in slices). Measured here (parse alone, 300k rows):
  // 16 MiB parsed as fast as 64 MiB and 32 MiB, with 60 MiB less RSS; 8 MiB was 20% slower.
  const worker = new Worker(BOOT, { workerData: request, resourceLimits: { maxYoungGenerationSizeMb: 16 } });
  const inbox: ParseThreadMessage[] = [];
  let failure: Error | null = null;
  let exited = false;
  let notify: (() => void) | null = null;
  const poke = () => { notify?.(); notify = null; };
  worker.on('message', (m: ParseThreadMessage) => { inbox.push(m); poke(); });
  worker.on('error', (err) => { failure = err; poke(); });
  worker.on('exit', () => { exited = true; poke(); });
  try {
    for (let i = 0; i < READ_AHEAD; i++) worker.postMessage('more');
    for (;;) {
      while (inbox.length === 0 && !failure && !exited) await new Promise<void>((resolve) => { notify = resolve; });
      const message = inbox.shift();
      if (!message) throw failure ?? new Error('the parse thread stopped unexpectedly');
      if (message.type === 'done') return;
      if (message.type === 'error') throw new Error(message.message);
      worker.postMessage('more');
      yield { ...message.batch, copyData: Buffer.from(message.copyData), keyedData: Buffer.from(message.keyedData) };
    }
  } finally {
    await worker.terminate();
  }
}
