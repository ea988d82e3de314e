/**
 * The parse thread cuts a file into commit batches of BATCH_SIZE rows, or fewer when the rows are
 * wide: a batch's COPY data is what an import holds in memory, three batches at a time. Real
 * thread, real reader, a real file on disk.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryTypesOf } from '../src/db/binaryTypes.js';
import { getKind } from '../src/kinds/index.js';
import { copyColumnsFor } from '../src/parse/rowPipeline.js';
import { parseInThread, type ParsedBatch, type ParseRequest } from '../src/parse/parsedBatches.js';
import type { ImportFormat } from '../src/parse/types.js';
import { EVENT_COLUMNS, eventRow, eventsCsv, eventsNdjson, manyEvents } from './support/events.js';

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'parsed-batches-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

async function requestFor(content: string, batchSize: number, format: ImportFormat = 'CSV'): Promise<ParseRequest> {
  const file = path.join(dir, `${Math.random().toString(16).slice(2)}.${format.toLowerCase()}`);
  await fs.writeFile(file, content);
  const kind = getKind('EVENTS');
  const header = format === 'CSV' ? [...EVENT_COLUMNS] : null;
  return {
    path: file, offset: 0, line: 0, format, header, kind: 'EVENTS',
    tenantId: '00000000-0000-4000-8000-000000000001', jobId: '00000000-0000-4000-8000-000000000002',
    batchSize, jobValues: {}, copy: { format: 'binary', types: binaryTypesOf('events', copyColumnsFor({ kind, format, header }))! }, storeRetryMs: 0,
  };
}

async function batchesOf(content: string, batchSize: number) {
  const request = await requestFor(content, batchSize);
  const out: { rows: number; copyBytes: number }[] = [];
  for await (const batch of parseInThread(request)) {
    out.push({ rows: batch.rowsProcessed, copyBytes: batch.copyData.length });
    batch.release();
  }
  return out;
}

describe('commit batches', () => {
  it('hold BATCH_SIZE rows of ordinary width', async () => {
    const batches = await batchesOf(eventsCsv(manyEvents(2_500)), 1_000);
    expect(batches.map((b) => b.rows)).toEqual([1_000, 1_000, 500]);
  });

  it('end sooner when their rows are wide, so that a batch stays within a few MB of COPY data', async () => {
    const wide = 'w'.repeat(8_000);
    const rows = 3_000; // ~24 MB of COPY data: one batch by rows, several by bytes
    const batches = await batchesOf(eventsCsv(manyEvents(rows).map((r, i) => eventRow(i, { ...r, user_agent: wide }))), 20_000);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    expect(batches.reduce((n, b) => n + b.rows, 0)).toBe(rows);
    for (const b of batches) expect(b.copyBytes).toBeLessThanOrEqual(8.5 * 1024 * 1024);
  });
});

describe('slot memory', () => {
  it('is never given to another job while a batch in it is held, and serves the next job once all are released', async () => {
    // A: every batch released but the last, as while its commit is still under way.
    const a = [];
    for await (const batch of parseInThread(await requestFor(eventsCsv(manyEvents(2_500)), 1_000))) a.push(batch);
    const held = a.pop()!;
    for (const batch of a) batch.release();
    const heldBytes = Buffer.from(held.copyData);

    // B runs meanwhile, and must not write where A's held batch lies.
    const bBuffers = new Set<ArrayBufferLike>();
    for await (const batch of parseInThread(await requestFor(eventsCsv(manyEvents(3_000, 50_000)), 1_000))) {
      bBuffers.add(batch.copyData.buffer);
      batch.release();
    }
    expect(bBuffers.has(held.copyData.buffer)).toBe(false);
    expect(held.copyData.equals(heldBytes)).toBe(true);

    // Once released, A's memory (or B's) serves the next job: no new memory per import.
    held.release();
    const cBuffers = new Set<ArrayBufferLike>();
    for await (const batch of parseInThread(await requestFor(eventsCsv(manyEvents(1_000)), 1_000))) {
      cBuffers.add(batch.copyData.buffer);
      batch.release();
    }
    expect([...cBuffers].every((buffer) => buffer === held.copyData.buffer || bBuffers.has(buffer))).toBe(true);
  });
});

describe('jobs parsed one after another', () => {
  /** A job's batches, released as they come: rows, failed rows, the failed lines, and a hash of its COPY data. */
  async function jobOf(request: ParseRequest, stopAfter = Infinity) {
    const out = { batches: 0, rows: 0, failed: 0, failedLines: [] as number[], copyData: '' };
    const hash = createHash('sha256');
    for await (const batch of parseInThread(request)) {
      out.batches++;
      out.rows += batch.rowsProcessed;
      out.failed += batch.rowsFailed;
      out.failedLines.push(...batch.errors.map((e) => e.line));
      hash.update(batch.copyData).update(batch.keyedData);
      batch.release();
      if (out.batches >= stopAfter) break; // the job stops half-way (cancelled, lease lost)
    }
    out.copyData = hash.digest('hex');
    return out;
  }

  it('give each job its own rows and errors, also after a job stopped half-way', async () => {
    // Each file has its own bad rows (a track without event_name fails), at lines of its own.
    const badAt = (n: number, every: number, start: number) => manyEvents(n, start).map((r, i) => (i % every === 0 ? { ...r, event_type: 'track' } : r));
    const csvA = await requestFor(eventsCsv(badAt(2_500, 100, 0)), 1_000);
    const ndjsonB = await requestFor(eventsNdjson(badAt(1_800, 300, 10_000)), 500, 'NDJSON');
    const csvC = await requestFor(eventsCsv(badAt(3_000, 7, 20_000)), 1_000);
    const csvD = await requestFor(eventsCsv(badAt(1_200, 400, 30_000)), 1_000);
    const lines = (n: number, every: number, first: number) => Array.from({ length: Math.ceil(n / every) }, (_, k) => first + k * every);

    const a = await jobOf(csvA);
    expect(a).toMatchObject({ rows: 2_500, failed: 25, batches: 3 });
    expect(a.failedLines).toEqual(lines(2_500, 100, 2)); // line 1 is the header
    const b = await jobOf(ndjsonB);
    expect(b).toMatchObject({ rows: 1_800, failed: 6, batches: 4 });
    expect(b.failedLines).toEqual(lines(1_800, 300, 1));
    const c = await jobOf(csvC, 1);
    expect(c).toMatchObject({ rows: 1_000, batches: 1 });
    const d = await jobOf(csvD);
    expect(d).toMatchObject({ rows: 1_200, failed: 3, batches: 2 });
    expect(d.failedLines).toEqual(lines(1_200, 400, 2));
    // The same file again, after all that, gives the same COPY data, byte for byte.
    expect((await jobOf(csvA)).copyData).toBe(a.copyData);
  });

  it('never fill a slot whose batch is still held, in a job whose slot memory served the job before', async () => {
    let before: ArrayBufferLike | undefined;
    for await (const batch of parseInThread(await requestFor(eventsCsv(manyEvents(2_500)), 1_000))) {
      before = batch.copyData.buffer;
      batch.release();
    }
    // The next job's batches are held, as while their commits are under way, three at a time.
    const held: { batch: ParsedBatch; bytes: Buffer }[] = [];
    let rows = 0;
    for await (const batch of parseInThread(await requestFor(eventsCsv(manyEvents(9_000, 40_000)), 500))) {
      expect(batch.copyData.buffer).toBe(before); // the memory the job before left
      held.push({ batch, bytes: Buffer.from(batch.copyData) });
      for (const h of held) expect(h.batch.copyData.equals(h.bytes)).toBe(true);
      rows += batch.rowsProcessed;
      if (held.length === 3) held.shift()!.batch.release(); // the oldest commit is done
    }
    for (const h of held) h.batch.release();
    expect(rows).toBe(9_000);
  });
});
