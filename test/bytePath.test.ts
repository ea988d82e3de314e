/**
 * The byte path (parse/bytePath.ts) must never change what an import does: for any file, the
 * row pipeline given records as bytes (as the parse thread reads them) must produce the same rows
 * and the same row errors as the string way alone. Random EVENTS files, as CSV and as NDJSON,
 * mixing good values with near misses of every rule, quoting and JSON of every shape, wrong field
 * counts and bytes that are not UTF-8, go through the real readers and pipeline both ways. And the
 * byte path must actually take the ordinary rows, or it would only be slower.
 *
 * No database: the pipeline is pure. test/copyEncoding.test.ts stores byte-path rows in Postgres.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryTypesOf } from '../src/db/binaryTypes.js';
import { BytePathResult, createBytePath } from '../src/parse/bytePath.js';
import { createCopyDataBuilder } from '../src/parse/copyData.js';
import { readCsv } from '../src/parse/csvReader.js';
import { readNdjson } from '../src/parse/ndjsonReader.js';
import type { ImportFormat, RecordBytes, RecordBatch, SourceRecord } from '../src/parse/types.js';
import { getKind } from '../src/kinds/index.js';
import { copyColumnsFor, createRowPipeline, type PreparedBatch } from '../src/parse/rowPipeline.js';
import { readableOnlyWithin } from './support/boundedBytes.js';

const EVENTS = getKind('EVENTS');
const TENANT = '00000000-0000-4000-8000-000000000001';
const JOB = '00000000-0000-4000-8000-000000000002';

let dir: string;
let fileNo = 0;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'csv-byte-path-')); });
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

/** Values for each column: good ones, and near misses of the rules validate applies. */
const VALUES: Record<string, { good: readonly string[]; bad: readonly string[] }> = {
  event_type: { good: ['page_view', 'identify_user', 'identify_company', 'track'], bad: ['Track', 'track ', 'bogus', ''] },
  event_name: { good: ['created_project', 'café ☕', 'a,b', 'say "hi"'], bad: [''] },
  user_id: { good: ['User-Alice', 'ü', ' ', 'line\nbreak'], bad: [''] },
  company_id: { good: ['acme', '"quoted"'], bad: [''] },
  hostname: { good: ['example.com', ''], bad: [] },
  pathname: { good: ['/home/', '', '/a,b/'], bad: [] },
  screen_width: { good: ['1920', '', '0', '2147483647'], bad: ['2147483648', '-1', '01', '1.0', ' 1', '12345678901', 'x'] },
  screen_height: { good: ['1080', ''], bad: ['-0'] },
  user_agent: { good: ['Mozilla/5.0 🚀', '', 'x'.repeat(300)], bad: [] },
  inserted_at: {
    good: ['2024-07-28T08:55:35Z', '2024-07-28 08:55:35.123456+05:30', '2024-02-29T23:59:59.9999995Z', '2024-01-01T00:00'],
    bad: ['2023-02-29T00:00:00Z', '2024-01-01T00:00:00+16:00', '2024-01-01T24:00:00Z', '2024-01-01', '', 'garbage', '2024-07-28T08:55:35.1234567890Z'],
  },
  metadata: {
    good: ['{}', '{"a": 1, "b": [true, null, "x,y"]}', ' {"s": "é🚀"} ', '{"a": "\\u00e9"}'],
    bad: ['', '[1]', '{"a": 1e400}', '{"a": "\\u0000"}', '{bad', '{"n": 1e131072}', '{"deep": ' + '['.repeat(70) + ']'.repeat(70) + '}', '{"a":1}{"b":2}'],
  },
  event_id: { good: ['', 'e-1', 'e-2'], bad: ['x'.repeat(2001), 'é'.repeat(1001)] },
};
const HEADER = Object.keys(VALUES);

/** A field as a CSV writer would quote it, or one of the ways files get quoting wrong. */
const fieldText = (value: string, quoting: number, delimiter = ',') => {
  if (quoting === 1) return `"${value.replace(/"/g, '""')}"`; // quoted although it need not be
  if (quoting === 2 && value) return `${value[0]}"${value.slice(1)}`; // a stray quote
  if (quoting === 3) return `"${value.replace(/"/g, '""')}"x`; // text after the closing quote
  return /["\n\r]/.test(value) || value.includes(delimiter) ? `"${value.replace(/"/g, '""')}"` : value;
};

/** Mostly good values, so that a row often fails (or would be changed) by one column alone. */
const value = (h: string) => fc.oneof(
  { weight: 15, arbitrary: fc.constantFrom(...VALUES[h].good) },
  // metadata has the most ways to be wrong (depth, number range, escapes): drawn from them more often
  { weight: h === 'metadata' ? 6 : 1, arbitrary: fc.constantFrom(...VALUES[h].good, ...VALUES[h].bad) },
);
const row = fc.record(Object.fromEntries(HEADER.map((h) => [h, value(h)]))) as fc.Arbitrary<Record<string, string>>;
const quoting = fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) });
/**
 * A CSV file with the given delimiter; with `ignored`, a column that a column mapping ignores
 * (kinds/columnMapping.ts) is the third of each record, and holds quotes and delimiters too.
 */
const csvFileOf = (delimiter: string, ignored: boolean) => {
  const record = fc.tuple(row, fc.array(quoting, { minLength: HEADER.length, maxLength: HEADER.length }), fc.integer({ min: 0, max: 30 }), fc.constantFrom('', 'x', `a${delimiter}"b"`))
    .map(([values, quotings, shape, note]) => {
      const fields = HEADER.map((h, i) => fieldText(values[h], quotings[i], delimiter));
      if (ignored) fields.splice(2, 0, fieldText(note, 0, delimiter));
      if (shape === 0) fields.pop(); // one field short
      if (shape === 1) fields.push('extra');
      const bytes = Buffer.from(fields.join(delimiter));
      if (shape === 2) return Buffer.concat([bytes, Buffer.from([0xff, 0xfe])]); // not UTF-8
      if (shape === 3) return Buffer.concat([bytes, Buffer.from('\0')]);
      return bytes;
    });
  return fc.tuple(fc.array(record, { minLength: 1, maxLength: 60 }), fc.constantFrom('\n', '\r\n'))
    .map(([records, eol]) => Buffer.concat([Buffer.from(csvHeader(ignored).join(delimiter) + eol), ...records.flatMap((r) => [r, Buffer.from(eol)])]));
};
const csvHeader = (ignored: boolean) => (ignored ? [...HEADER.slice(0, 2), 'Notes', ...HEADER.slice(2)] : HEADER);
const csvFile = csvFileOf(',', false);

/** Mostly 0 (as a writer would give it), sometimes one of the odd shapes 1..n. */
const shape = (n: number) => fc.oneof({ weight: 40, arbitrary: fc.constant(0) }, { weight: n, arbitrary: fc.integer({ min: 1, max: n }) });

/** An NDJSON member's value: mostly as a writer would give it, sometimes JSON of another shape. */
const jsonValue = (column: string, value: string, odd: number): string => {
  if (odd === 1) return 'null';
  if (odd === 2) return 'true';
  if (odd === 3) return '"with \\"escape\\""';
  if (odd === 4 && /^-?\d+$/.test(value)) return value; // a number
  if (column === 'metadata' && value.trim().startsWith('{') && odd !== 5) return value; // an object as itself
  if (column.startsWith('screen_') && /^-?\d+$/.test(value) && odd !== 5) return value; // numbers as numbers, as the seed shows them
  return JSON.stringify(value);
};
const ndjsonLine = fc.tuple(row, fc.array(shape(5), { minLength: HEADER.length, maxLength: HEADER.length }), fc.boolean(), shape(11))
  .map(([values, odd, keepEmpty, lineShape]) => {
    const members = HEADER.filter((h) => values[h] !== '' || keepEmpty)
      .map((h) => `${lineShape === 1 ? ' ' : ''}"${h}":${lineShape === 1 ? ' ' : ''}${jsonValue(h, values[h], odd[HEADER.indexOf(h)])}`);
    if (lineShape === 2) members.push('"unknown": 1');
    if (lineShape === 3) members.push('"user_id": "again"');
    if (lineShape === 4) members.reverse();
    if (lineShape === 5) members.push('"eventType": "track"');
    const text = lineShape === 6 ? '[1]' : lineShape === 7 ? '   ' : lineShape === 8 ? '{"event_type": ' : `{${members.join(',')}}${lineShape === 9 ? ' \t' : ''}`;
    const bytes = Buffer.from(text);
    if (lineShape === 10) return Buffer.concat([bytes.subarray(0, 30), Buffer.from([0xc3]), bytes.subarray(30)]); // not UTF-8
    if (lineShape === 11) return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]); // a byte order mark (read as such on line 1 only)
    return bytes;
  });
const ndjsonFile = fc.tuple(fc.array(ndjsonLine, { minLength: 1, maxLength: 60 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
  .map(([lines, eol, finalEol]) => Buffer.concat(lines.flatMap((l, i) => (i < lines.length - 1 || finalEol ? [l, Buffer.from(eol)] : [l]))));

/** Binary COPY data as rows of fields: hex, and jsonb as its parsed value (the same object however it is written). */
function copyRows(data: Buffer, types: readonly string[]): unknown[][] {
  const rows: unknown[][] = [];
  let at = 19; // signature, flags, header extension
  for (;;) {
    const count = data.readInt16BE(at);
    at += 2;
    if (count === -1) return rows;
    const fields: unknown[] = [];
    for (let f = 0; f < count; f++) {
      const length = data.readInt32BE(at);
      at += 4;
      if (length < 0) { fields.push(null); continue; }
      const bytes = data.subarray(at, at + length);
      fields.push(types[f] === 'jsonb' ? JSON.parse(bytes.subarray(1).toString()) : bytes.toString('hex'));
      at += length;
    }
    rows.push(fields);
  }
}

/** Everything a pipeline produced for a file: per batch, its counts, errors and rows. */
async function runPipeline(format: ImportFormat, filePath: string, decode: boolean, batchSize: number, dialect = { delimiter: ',', ignored: false }) {
  const header = format === 'CSV' ? csvHeader(dialect.ignored) : null;
  const columnMapping = dialect.ignored ? [{ from: 'Notes', to: null }] : null;
  const columns = copyColumnsFor({ kind: EVENTS, format, header, columnMapping });
  const types = binaryTypesOf('events', columns)!;
  const copy = { format: 'binary' as const, types };
  const { delimiter } = dialect;
  const pipeline = createRowPipeline({ kind: EVENTS, format, header, columnMapping, delimiter, tenantId: TENANT, jobId: JOB, startOffset: 0, copy });
  const from = { path: filePath, offset: 0, line: 0, batchSize };
  const batches = (format === 'CSV'
    ? (decode ? readCsv({ ...from, skipHeader: true, delimiter }) : readCsv({ ...from, skipHeader: true, delimiter, decode: false }))
    : (decode ? readNdjson(from) : readNdjson({ ...from, decode: false }))) as AsyncGenerator<RecordBatch<SourceRecord | RecordBytes>>;
  const out: { prepared: PreparedBatch; rows: unknown[][]; keyedRows: unknown[][] }[] = [];
  for await (const batch of batches) {
    const prepared = pipeline.prepare(batch);
    const { copyData, keyedData } = pipeline.takeCopyData();
    out.push({ prepared, rows: copyRows(copyData, types), keyedRows: copyRows(keyedData, types) });
  }
  return out;
}

describe('the byte path', () => {
  for (const dialect of [{ delimiter: ';', ignored: false }, { delimiter: '|', ignored: true }, { delimiter: '\t', ignored: true }]) {
    it(`gives the same rows and row errors as the string way for CSV with ${JSON.stringify(dialect.delimiter)}${dialect.ignored ? ' and a column a mapping ignores' : ''}`, async () => {
      await fc.assert(fc.asyncProperty(csvFileOf(dialect.delimiter, dialect.ignored), fc.constantFrom(1, 7, 500), async (bytes, batchSize) => {
        const filePath = path.join(dir, `f${++fileNo}.csv`);
        await fs.writeFile(filePath, bytes);
        expect(await runPipeline('CSV', filePath, false, batchSize, dialect)).toEqual(await runPipeline('CSV', filePath, true, batchSize, dialect));
      }), { numRuns: 150 });
    });
  }

  for (const [format, files] of [['CSV', csvFile], ['NDJSON', ndjsonFile]] as const) {
    it(`gives the same rows and row errors as the string way, for any ${format} file`, async () => {
      await fc.assert(fc.asyncProperty(files, fc.constantFrom(1, 7, 500), async (bytes, batchSize) => {
        const filePath = path.join(dir, `f${++fileNo}.${format.toLowerCase()}`);
        await fs.writeFile(filePath, bytes);
        expect(await runPipeline(format, filePath, false, batchSize)).toEqual(await runPipeline(format, filePath, true, batchSize));
      }), { numRuns: 500 });
    });
  }

  it('takes ordinary CSV rows, and leaves rows that fail or that validate would change to the string way', () => {
    const fileHeader = ['event_type', 'user_id', 'inserted_at', 'metadata', 'event_id', 'screen_width'];
    const order = fileHeader.map((h) => EVENTS.columns.findIndex((c) => c.name === h));
    const key = EVENTS.columns.findIndex((c) => c.name === 'event_id');
    const path = createBytePath({ kind: EVENTS, format: 'CSV', order, keyColumn: key, uniqueColumn: key })!;
    const columns = ['tenant_id', 'job_id', 'line', ...order.map((k) => EVENTS.columns[k].dbColumn)];
    const encoding = { format: 'binary' as const, types: binaryTypesOf('events', columns)! };
    const origin = { tenantId: TENANT, jobId: JOB, jobValues: [] };
    const plain = createCopyDataBuilder(encoding, origin, order);
    const keyed = createCopyDataBuilder(encoding, origin, order);
    const take = (text: string, utf8 = true) => {
      const end = 2 + Buffer.byteLength(text);
      const data = readableOnlyWithin(Buffer.from(`xx${text}yy`), 2, end); // the record lies inside a larger buffer, as in a file chunk
      return path.add({ line: 2, data, start: 2, end, utf8 }, plain, keyed);
    };
    expect(take('page_view,u1,2024-07-28T08:55:35Z,"{""a"": 1}",,1920')).toBe(BytePathResult.Plain);
    expect(take('page_view,u1,2024-07-28 08:55:35.5+05:30,{},e-1,')).toBe(BytePathResult.Keyed);
    expect(take('"identify_user","ü","2024-07-28T08:55:35Z","{}","",""')).toBe(BytePathResult.Plain);
    expect(take('page_view,u1,2024-07-28T08:55:35Z,{},,1920', false)).toBe(BytePathResult.Declined); // UTF-8 not known
    expect(take('page_view,u1,2024-07-28T08:55:35Z,,,1920')).toBe(BytePathResult.Declined); // empty metadata becomes {}
    expect(take('track,u1,2024-07-28T08:55:35Z,{},,1920')).toBe(BytePathResult.Declined); // event_name required for track
    expect(take('page_view,,2024-07-28T08:55:35Z,{},,1920')).toBe(BytePathResult.Declined); // user_id required
    expect(take('page_view,u1,2023-02-29T08:55:35Z,{},,1920')).toBe(BytePathResult.Declined);
    expect(take('page_view,u1,2024-07-28T08:55:35Z,{},,-1')).toBe(BytePathResult.Declined);
    expect(take('page_view,u1,2024-07-28T08:55:35Z,"{""a"": ""\\u0000""}",,1')).toBe(BytePathResult.Declined);
    expect(take(`page_view,u1,2024-07-28T08:55:35Z,{},${'k'.repeat(2001)},1`)).toBe(BytePathResult.Declined); // key too long
    expect(take('page_view,u1,2024-07-28T08:55:35Z,{},,1,')).toBe(BytePathResult.Declined); // a field too many
    expect(take('page_view,u"1,2024-07-28T08:55:35Z,{},,1')).toBe(BytePathResult.Declined); // a stray quote
    expect(take('page_view,u1,2024-07-28T08:55:35Z," {}\t",,1')).toBe(BytePathResult.Plain); // white space around it
    // metadata is read where it lies, and what follows it must not finish it: here event_id's
    // unescaped text (`}"`), right after metadata's in the splitter's copy buffer.
    expect(take('page_view,u1,2024-07-28T08:55:35Z,"{""a"": 1","}""",1')).toBe(BytePathResult.Declined);
    expect(take('page_view,u1,2024-07-28T08:55:35Z,"{""a"": 1}","e""1",1')).toBe(BytePathResult.Keyed);
  });

  it('takes ordinary NDJSON lines, and leaves the others to JSON.parse', () => {
    const key = EVENTS.columns.findIndex((c) => c.name === 'event_id');
    const order = EVENTS.columns.map((_, i) => i);
    const path = createBytePath({ kind: EVENTS, format: 'NDJSON', order, keyColumn: key, uniqueColumn: key })!;
    const columns = copyColumnsFor({ kind: EVENTS, format: 'NDJSON', header: null });
    const encoding = { format: 'binary' as const, types: binaryTypesOf('events', columns)! };
    const origin = { tenantId: TENANT, jobId: JOB, jobValues: [] };
    const plain = createCopyDataBuilder(encoding, origin, order);
    const keyed = createCopyDataBuilder(encoding, origin, order);
    const take = (text: string) => {
      const end = 2 + Buffer.byteLength(text);
      const data = readableOnlyWithin(Buffer.from(`xx${text}\nyy`), 2, end);
      return path.add({ line: 1, data, start: 2, end, utf8: true }, plain, keyed);
    };
    const good = '"event_type": "page_view", "user_id": "u1", "inserted_at": "2024-07-28T08:55:35Z"';
    expect(take(`{${good}, "screen_width": 1920, "metadata": {"a": [1, {"b": null}], "s": "é"}}`)).toBe(BytePathResult.Plain);
    expect(take(` {${good}, "event_id": "e-1", "hostname": null, "metadata": "{}"} \r`)).toBe(BytePathResult.Keyed);
    expect(take(`{${good}, "metadata": {"n": 1e400}, "user_agent": ""}`)).toBe(BytePathResult.Plain);
    expect(take(`{${good}}`)).toBe(BytePathResult.Declined); // no metadata: it becomes {}
    expect(take(`{${good}, "metadata": {}, "source": "a\\"b"}`)).toBe(BytePathResult.Declined); // an escape
    expect(take(`{${good}, "metadata": {}, "source": 7}`)).toBe(BytePathResult.Declined); // a number for text
    expect(take(`{${good}, "metadata": {}, "screen_width": 1.0}`)).toBe(BytePathResult.Declined);
    expect(take(`{${good}, "metadata": {}, "unknown": 1}`)).toBe(BytePathResult.Declined);
    expect(take(`{${good}, "metadata": {}, "user_id": "u2"}`)).toBe(BytePathResult.Declined); // a key twice
    expect(take(`{${good}, "metadata": {}, "userId": "u2"}`)).toBe(BytePathResult.Declined); // a key JSON.parse's way matches
    expect(take(`{${good}, "metadata": {"n": 1e131072}}`)).toBe(BytePathResult.Declined); // beyond numeric
    expect(take(`{${good}, "metadata": {}} x`)).toBe(BytePathResult.Declined);
    // The line is read where it lies in the reader's buffer: a line that leaves its object
    // unfinished is not read on into the next line, which would finish it (a line end is JSON space).
    const unfinished = (text: string, next: string) => {
      const end = Buffer.byteLength(text);
      const data = readableOnlyWithin(Buffer.from(`${text}\n${next}\n`), 0, end);
      return path.add({ line: 1, data, start: 0, end, utf8: true }, plain, keyed);
    };
    expect(unfinished(`{${good}, "metadata": {"a":`, '1}}')).toBe(BytePathResult.Declined);
    expect(unfinished(`{${good}, "metadata": {}`, '}')).toBe(BytePathResult.Declined);
    expect(unfinished(`{${good}, "metadata": {},`, '"user_agent": "x"}')).toBe(BytePathResult.Declined);
    expect(unfinished(`{${good}, "metadata": {}, "source": nu`, 'll}')).toBe(BytePathResult.Declined);
    expect(unfinished(`{${good}, "metadata": {}, "source": "a`, 'b"}')).toBe(BytePathResult.Declined);
  });
});
