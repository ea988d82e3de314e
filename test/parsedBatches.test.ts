/**
 * The parse thread cuts a file into commit batches of BATCH_SIZE rows, or fewer when the rows are
 * wide: a batch's COPY data is what an import holds in memory, three batches at a time. Real
 * thread, real reader, a real file on disk.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryTypesOf } from '../src/db/binaryTypes.js';
import { getKind } from '../src/imports/kinds/index.js';
import { copyColumnsFor } from '../src/imports/rowPipeline.js';
import { parseInThread, type ParseRequest } from '../src/workers/parsedBatches.js';
import { EVENT_COLUMNS, eventRow, eventsCsv, manyEvents } from './support/events.js';

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'parsed-batches-')); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

async function requestFor(content: string, batchSize: number): Promise<ParseRequest> {
  const file = path.join(dir, `${Math.random().toString(16).slice(2)}.csv`);
  await fs.writeFile(file, content);
  const kind = getKind('EVENTS');
  const header = [...EVENT_COLUMNS];
  return {
    path: file, offset: 0, line: 0, format: 'CSV', header, kind: 'EVENTS',
    tenantId: '00000000-0000-4000-8000-000000000001', jobId: '00000000-0000-4000-8000-000000000002',
    batchSize, jobValues: {}, copy: { format: 'binary', types: binaryTypesOf('events', copyColumnsFor({ kind, format: 'CSV', header }))! },
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
