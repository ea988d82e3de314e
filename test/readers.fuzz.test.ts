/**
 * Fuzzing the file readers (issue "hostile input", item 5): random CSV tables and NDJSON files,
 * read with many read sizes (so records, CRLF pairs and multibyte characters straddle chunk
 * boundaries) and batch sizes. Whatever the chunking, a reader must give the same records (fields,
 * line numbers, raw text), end at the file's size, never throw, and give back the generated values;
 * and reading again from any batch's checkpoint (endOffset/endLine, as a resumed job does) must
 * continue exactly where the full read went on.
 *
 * These read real files from a temporary folder with the real readers; no server is needed.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCsvRecord, readCsv, splitRecord } from '../src/parse/csvReader.js';
import { decodeNdjsonLine, readNdjson } from '../src/parse/ndjsonReader.js';
import type { RecordBatch, RecordBytes, SourceRecord } from '../src/parse/types.js';
import {
  buildCsv, buildNdjson, csvField, csvTable, encodeCsvRecord, ndjsonFile, readAll, type ReadResult,
} from './support/readerFuzz.js';

const CHUNK_SIZES = [1, 2, 3, 7, 64, 4096] as const;
const BATCH_SIZES = [1, 2, 3, 5, 1000] as const;
const RUNS = 120;

let dir: string;
let fileNo = 0;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'readers-fuzz-')); });
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

async function tempFile(bytes: Buffer): Promise<string> {
  const file = path.join(dir, `f${++fileNo}`);
  await fs.writeFile(file, bytes);
  return file;
}

const csvAt = (file: string, batchSize: number, chunkBytes?: number, from = { offset: 0, line: 0 }, maxRecordBytes?: number) =>
  readAll(readCsv({ path: file, ...from, batchSize, chunkBytes, skipHeader: from.offset === 0, maxRecordBytes }));
const ndjsonAt = (file: string, batchSize: number, chunkBytes?: number, from = { offset: 0, line: 0 }, maxLineBytes?: number) =>
  readAll(readNdjson({ path: file, ...from, batchSize, chunkBytes, maxLineBytes }));

/** Checkpoints only move forward, and no batch holds more than batchSize records. */
function expectWellFormedBatches(result: ReadResult, batchSize: number) {
  let offset = 0;
  let line = 0;
  for (const batch of result.batches) {
    expect(batch.records.length).toBeLessThanOrEqual(batchSize);
    expect(batch.endOffset).toBeGreaterThanOrEqual(offset);
    expect(batch.endLine).toBeGreaterThanOrEqual(line);
    ({ endOffset: offset, endLine: line } = batch);
  }
}

/**
 * Resume, as after a crash: read again from the end of batch `k` (offset > 0, no header skip) and
 * check that what was read before the checkpoint plus what the resumed reader gives is the full read.
 */
async function expectResumeMatches(full: ReadResult, k: number, resume: (from: { offset: number; line: number }) => Promise<ReadResult>) {
  const index = k % full.batches.length;
  const cut = full.batches[index];
  expect(cut.endOffset).toBeGreaterThan(0);
  const resumed = await resume({ offset: cut.endOffset, line: cut.endLine });
  const before = full.batches.slice(0, index + 1).flatMap((b) => b.records);
  expect([...before, ...resumed.records]).toEqual(full.records);
  expect({ endOffset: resumed.endOffset, endLine: resumed.endLine }).toEqual({ endOffset: full.endOffset, endLine: full.endLine });
}

/**
 * Reads as the parse thread does: records as bytes, into buffers the reader reuses, each batch
 * decoded before the next is asked for (after that, its bytes may be read over).
 */
async function readReusingBuffers(batches: AsyncGenerator<RecordBatch<SourceRecord | RecordBytes>>, decode: (record: RecordBytes) => SourceRecord | null) {
  const records: SourceRecord[] = [];
  let end = { endOffset: -1, endLine: -1 };
  for await (const batch of batches) {
    for (const record of batch.records) {
      const decoded = 'data' in record ? decode(record as RecordBytes) : record;
      if (decoded) records.push(decoded);
    }
    end = { endOffset: batch.endOffset, endLine: batch.endLine };
  }
  return { records, ...end };
}

const fieldsOf = (records: SourceRecord[]) => records.map((r) => ({ line: r.line, raw: r.raw, fields: r.fields, parseError: r.parseError }));

describe('readCsv', () => {
  it('gives the generated records, the same for every chunk and batch size, and resumes from any checkpoint', async () => {
    await fc.assert(fc.asyncProperty(
      csvTable, fc.constantFrom(...BATCH_SIZES), fc.constantFrom(...CHUNK_SIZES), fc.nat(),
      async (table, batchSize, resumeChunk, k) => {
        const expected = buildCsv(table);
        const file = await tempFile(expected.bytes);

        const reference = await csvAt(file, 1000); // the 1 MiB default read size
        expect(fieldsOf(reference.records)).toEqual(expected.records.map((r) => ({ ...r, parseError: undefined })));
        expect(reference.endOffset).toBe(expected.bytes.length);
        expect(reference.endLine).toBe(expected.endLine);

        for (const chunkBytes of CHUNK_SIZES) {
          const result = await csvAt(file, batchSize, chunkBytes);
          expect(result.records, `chunkBytes ${chunkBytes}`).toEqual(reference.records);
          expect({ endOffset: result.endOffset, endLine: result.endLine }).toEqual({ endOffset: reference.endOffset, endLine: reference.endLine });
          expectWellFormedBatches(result, batchSize);
        }

        const full = await csvAt(file, batchSize, resumeChunk);
        await expectResumeMatches(full, k, (from) => csvAt(file, batchSize, resumeChunk, from));
      },
    ), { numRuns: RUNS });
  });

  it('as bytes into reused buffers, as the parse thread reads, gives the same records when each batch is done with before the next', async () => {
    await fc.assert(fc.asyncProperty(
      csvTable, fc.constantFrom(...BATCH_SIZES), fc.constantFrom(...CHUNK_SIZES),
      async (table, batchSize, chunkBytes) => {
        const file = await tempFile(buildCsv(table).bytes);
        const reference = await csvAt(file, 1000);
        const result = await readReusingBuffers(readCsv({ path: file, offset: 0, line: 0, batchSize, chunkBytes, skipHeader: true, decode: false, reuseBuffers: true }), decodeCsvRecord);
        expect(result.records, `chunkBytes ${chunkBytes}, batchSize ${batchSize}`).toEqual(reference.records);
        expect({ endOffset: result.endOffset, endLine: result.endLine }).toEqual({ endOffset: reference.endOffset, endLine: reference.endLine });
      },
    ), { numRuns: RUNS });
  });

  it('reads CRLF pairs and multibyte characters split across every possible chunk boundary', async () => {
    // A fixed file with every hard case next to each other, read with every chunk size up to its length.
    const text = '\uFEFFa,b\r\n"x\r\ny","€😀"\r\r\n\n"",中\r"q""",\r\n,\n"end"';
    const file = await tempFile(Buffer.from(text));
    const expected = [
      { line: 2, raw: '"x\r\ny","€😀"', fields: ['x\r\ny', '€😀'], clean: true },
      { line: 6, raw: '"",中', fields: ['', '中'], clean: false },
      { line: 7, raw: '"q""",', fields: ['q"', ''], clean: true },
      { line: 8, raw: ',', fields: ['', ''], clean: true },
      { line: 9, raw: '"end"', fields: ['end'], clean: true },
    ];
    for (let chunkBytes = 1; chunkBytes <= Buffer.byteLength(text) + 1; chunkBytes++) {
      const result = await csvAt(file, 2, chunkBytes);
      expect(result.records, `chunkBytes ${chunkBytes}`).toEqual(expected);
      expect(result.endOffset).toBe(Buffer.byteLength(text));
      expect(result.endLine).toBe(9);
    }
  });

  // Regression: a record over the limit used to be read differently by chunk size (framed whole and
  // accepted, or reported and then re-read from its middle, shifting later line numbers).
  it('a record longer than maxRecordBytes: one error at its line, whatever the chunk size', async () => {
    const file = await tempFile(Buffer.from(`a,b\n1,2\n${'x'.repeat(100)},y\n3,4\n5,6\n`));
    for (const chunkBytes of [...CHUNK_SIZES, undefined]) {
      const result = await csvAt(file, 100, chunkBytes, undefined, 32);
      expect(fieldsOf(result.records), `chunkBytes ${chunkBytes}`).toEqual([
        { line: 2, raw: '1,2', fields: ['1', '2'], parseError: undefined },
        { line: 3, raw: expect.stringMatching(/^x+(,y)?$/), fields: undefined, parseError: 'the record is longer than 32 bytes; is a quote left unclosed?' },
        { line: 4, raw: '3,4', fields: ['3', '4'], parseError: undefined },
        { line: 5, raw: '5,6', fields: ['5', '6'], parseError: undefined },
      ]);
      expect(result.endLine).toBe(5);
    }
  });
});

describe('splitRecord', () => {
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)); // lone surrogates too
  const csvish = fc.constantFrom(',', '"', '""', '\r', '\n', 'a', ' ', '😀');

  it('never throws on arbitrary text: it returns fields or a parse error, with the text and line given', () => {
    fc.assert(fc.property(
      fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: codeUnit }), fc.string({ unit: csvish, maxLength: 30 })), fc.nat(),
      (raw, line) => {
        const record = splitRecord(raw, line);
        expect(record.line).toBe(line);
        expect(record.raw).toBe(raw);
        if (record.parseError !== undefined) {
          expect(record.fields).toBeUndefined();
          expect(record.parseError).toMatch(/^(unclosed quote|unexpected text|a quote inside)/);
        } else {
          expect(record.fields!.length).toBeGreaterThan(0);
          expect(record.fields!.every((f) => typeof f === 'string')).toBe(true);
          // Without quotes, splitting is plain: the text is the fields joined by commas.
          if (!raw.includes('"')) expect(record.fields!.join(',')).toBe(raw);
        }
      },
    ), { numRuns: 500 });
  });

  it('gives back the fields of any RFC 4180 record, and says it is clean unless a field was a quoted ""', () => {
    fc.assert(fc.property(
      fc.array(csvField, { minLength: 1, maxLength: 6 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
      (fields, forceQuote) => {
        const raw = encodeCsvRecord({ fields, forceQuote, eol: '\n', blankLines: [] });
        const record = splitRecord(raw, 7);
        expect(record.parseError).toBeUndefined();
        expect(record.fields).toEqual(fields);
        const quotedEmpty = fields.some((f, i) => f === '' && (forceQuote[i] || fields.length === 1));
        expect(record.clean).toBe(!quotedEmpty);
      },
    ), { numRuns: 500 });
  });
});

describe('readNdjson', () => {
  it('gives the generated lines, the same for every chunk and batch size, and resumes from any checkpoint', async () => {
    await fc.assert(fc.asyncProperty(
      ndjsonFile, fc.constantFrom(...BATCH_SIZES), fc.constantFrom(...CHUNK_SIZES), fc.nat(),
      async (spec, batchSize, resumeChunk, k) => {
        const expected = buildNdjson(spec);
        const file = await tempFile(expected.bytes);

        const reference = await ndjsonAt(file, 1000);
        expect(reference.records).toEqual(expected.records);
        expect(reference.endOffset).toBe(expected.bytes.length);
        expect(reference.endLine).toBe(expected.endLine);

        for (const chunkBytes of CHUNK_SIZES) {
          const result = await ndjsonAt(file, batchSize, chunkBytes);
          expect(result.records, `chunkBytes ${chunkBytes}`).toEqual(reference.records);
          expect({ endOffset: result.endOffset, endLine: result.endLine }).toEqual({ endOffset: reference.endOffset, endLine: reference.endLine });
          expectWellFormedBatches(result, batchSize);
        }

        const full = await ndjsonAt(file, batchSize, resumeChunk);
        const cut = k % full.batches.length;
        // Only an empty file has a checkpoint at offset 0, and that is a fresh start, not a resume.
        if (full.batches[cut].endOffset > 0) await expectResumeMatches(full, cut, (from) => ndjsonAt(file, batchSize, resumeChunk, from));
      },
    ), { numRuns: RUNS });
  });

  it('as bytes into reused buffers, as the parse thread reads, gives the same lines when each batch is done with before the next', async () => {
    await fc.assert(fc.asyncProperty(
      ndjsonFile, fc.constantFrom(...BATCH_SIZES), fc.constantFrom(...CHUNK_SIZES),
      async (spec, batchSize, chunkBytes) => {
        const file = await tempFile(buildNdjson(spec).bytes);
        const reference = await ndjsonAt(file, 1000);
        const result = await readReusingBuffers(readNdjson({ path: file, offset: 0, line: 0, batchSize, chunkBytes, decode: false, reuseBuffers: true }), decodeNdjsonLine);
        expect(result.records, `chunkBytes ${chunkBytes}, batchSize ${batchSize}`).toEqual(reference.records);
        expect({ endOffset: result.endOffset, endLine: result.endLine }).toEqual({ endOffset: reference.endOffset, endLine: reference.endLine });
      },
    ), { numRuns: RUNS });
  });

  it('reads a line longer than maxLineBytes as one error at its line, then goes on, for small chunk sizes', async () => {
    const file = await tempFile(Buffer.from(`{"a":1}\n{"b":"${'x'.repeat(100)}"}\r\n{"c":3}\n`));
    for (const chunkBytes of [1, 2, 3, 7]) {
      const result = await ndjsonAt(file, 100, chunkBytes, undefined, 32);
      expect(result.records.map((r) => [r.line, r.json ?? r.parseError])).toEqual([
        [1, { a: 1 }], [2, 'the line is longer than 32 bytes'], [3, { c: 3 }],
      ]);
      expect(result.endLine).toBe(3);
    }
  });

  // Regression test for a bug, since fixed (minor; src/parse/ndjsonReader.ts).
  it('a line longer than maxLineBytes is an error whatever the chunk size (also in one chunk)', async () => {
    const file = await tempFile(Buffer.from(`{"a":1}\n{"b":"${'x'.repeat(100)}"}\n{"c":3}\n`));
    for (const chunkBytes of [1, 64, 4096, undefined]) {
      const result = await ndjsonAt(file, 100, chunkBytes, undefined, 32);
      expect(result.records.map((r) => [r.line, r.json ?? r.parseError]), `chunkBytes ${chunkBytes}`).toEqual([
        [1, { a: 1 }], [2, 'the line is longer than 32 bytes'], [3, { c: 3 }],
      ]);
    }
  });
});
