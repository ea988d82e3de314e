/**
 * The two encodings of COPY data (parse/copyData.ts) must store the same rows: binary COPY is
 * what a real Postgres gets, CSV text what PGlite gets and what the service used before. Rows
 * with awkward values go through the real readers and row pipeline into the real `events` table
 * both ways, and the tables must agree. The binary encoding's own arithmetic (timestamps) is
 * checked against Postgres' reading of the same text, and the allocation-free checks of the hot
 * path (timestamps, JSON objects) against the slower definitions they replaced.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binaryTypesOf } from '../src/db/binaryTypes.js';
import { BinaryCopyWriter, type BinaryType } from '../src/codecs/copyBinary.js';
import type { Database } from '../src/db/database.js';
import { openDatabase } from '../src/db/openDatabase.js';
import type { CopyEncoding } from '../src/parse/copyData.js';
import { readCsv } from '../src/parse/csvReader.js';
import { readNdjson } from '../src/parse/ndjsonReader.js';
import type { ImportFormat } from '../src/parse/types.js';
import { checkJsonObjectText, JsonTextCheck, jsonValueEnd, memberText } from '../src/codecs/jsonText.js';
import { isStorableJsonObjectBytes } from '../src/kinds/values.js';
import { NdjsonFields } from '../src/parse/ndjsonFields.js';
import { getKind } from '../src/kinds/index.js';
import { readTimestamp, readTimestampBytes, TimestampCheck } from '../src/codecs/timestamps.js';
import { copyColumnsFor, createRowPipeline } from '../src/parse/rowPipeline.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { readableOnlyWithin } from './support/boundedBytes.js';

let testDb: TestDatabase;
let db: Database;
let dir: string;
beforeAll(async () => {
  testDb = await createTestDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'copy-encoding-'));
  db = await openDatabase({ databaseUrl: testDb.url, databaseDirectUrl: testDb.directUrl, dataDir: dir });
});
afterAll(async () => {
  await db?.close();
  await testDb?.drop();
  await fs.rm(dir, { recursive: true, force: true });
});

const EVENTS = getKind('EVENTS');
const HEADER = ['event_type', 'event_name', 'source', 'user_id', 'company_id', 'hostname', 'pathname', 'country_code', 'screen_width',
  'screen_height', 'operating_system', 'browser', 'browser_language', 'user_agent', 'device_type', 'inserted_at', 'metadata', 'event_id'];
const LONG_UNICODE = `Mozilla/5.0 🚀 ünïcödé 日本語のユーザーエージェント ${'x'.repeat(70)} – “quoted”`;

/** Awkward rows, as objects; the CSV file says the same with quoting. */
const ROWS: Record<string, string | number | object | null>[] = [
  { event_type: 'page_view', user_id: 'u1', inserted_at: '2024-07-28T08:55:35Z' },
  { event_type: 'track', event_name: 'café ☕', user_id: 'u2', pathname: '/naïve/', user_agent: LONG_UNICODE, inserted_at: '2024-02-29T23:59:59.9999995Z', metadata: { a: [1, 2, { b: null }], s: 'é🚀', n: -1.5e10 } },
  { event_type: 'identify_company', company_id: 'c, "quoted"\nwith a newline', inserted_at: '0001-01-01T00:30:00+01:00', screen_width: 0, screen_height: 2147483647 },
  { event_type: 'page_view', user_id: 'u3', inserted_at: '9999-12-31 23:59:59.999999-15:59', hostname: '', event_id: 'e-1' },
  { event_type: 'page_view', user_id: 'u4', inserted_at: '1999-12-31T23:59:59.5', metadata: {}, event_id: 'e-2' },
  { event_type: 'track', event_name: 'x', user_id: 'u5', inserted_at: '2024-07-28T08:55:35+0530', browser_language: 'zh-Hant-TW' },
  { event_type: 'track', event_name: 'y', user_id: 'u6', inserted_at: '2024-07-28T08:55+05', metadata: { deep: { er: { still: ['\u0001 control', 'tab\there'] } } } },
  { event_type: 'page_view', user_id: 'u7', inserted_at: '2038-01-19T03:14:08.123456789-00:30', source: 'x'.repeat(5000) },
];

function csvOf(rows: typeof ROWS): string {
  const cell = (v: unknown) => {
    if (v === undefined || v === null) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\n\r]/.test(s) || s === '' ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [HEADER.join(','), ...rows.map((r) => HEADER.map((h) => cell(r[h])).join(','))].join('\n') + '\n';
}

/** Reads `file` with the real reader and pipeline, and COPYs its valid rows into events as job `jobId`. */
async function importWith(copy: CopyEncoding, format: ImportFormat, file: string, jobId: string, tenantId: string): Promise<number> {
  const header = format === 'CSV' ? HEADER : null;
  const columns = copyColumnsFor({ kind: EVENTS, format, header });
  const pipeline = createRowPipeline({ kind: EVENTS, format, header, tenantId, jobId, startOffset: 0, copy });
  const from = { path: file, offset: 0, line: 0, batchSize: 3 };
  let valid = 0;
  // CSV records as bytes, as the parse thread reads them: binary COPY takes the byte path where it can.
  for await (const batch of format === 'CSV' ? readCsv({ ...from, skipHeader: true, decode: false }) : readNdjson(from)) {
    const prepared = pipeline.prepare(batch);
    expect(prepared.errors).toEqual([]);
    valid += prepared.rowsValid;
    const { copyData, keyedData } = pipeline.takeCopyData();
    await db.transaction(async (tx) => {
      await tx.copy('events', columns, Buffer.from(copyData), copy.format);
      await tx.copy('events', columns, Buffer.from(keyedData), copy.format);
    });
  }
  return valid;
}

const binaryEncoding = (format: ImportFormat): CopyEncoding =>
  ({ format: 'binary', types: binaryTypesOf('events', copyColumnsFor({ kind: EVENTS, format, header: format === 'CSV' ? HEADER : null }))! });

describe('binary and CSV COPY data store the same rows', () => {
  for (const format of ['CSV', 'NDJSON'] as const) {
    it(`for a ${format} file with awkward values`, async () => {
      const file = path.join(dir, `rows.${format}`);
      await fs.writeFile(file, format === 'CSV' ? csvOf(ROWS) : ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const viaCsv = randomUUID();
      const viaBinary = randomUUID();
      expect(await importWith({ format: 'csv' }, format, file, viaCsv, randomUUID())).toBe(ROWS.length);
      expect(await importWith(binaryEncoding(format), format, file, viaBinary, randomUUID())).toBe(ROWS.length);

      const columns = ['line', ...HEADER].map((c) => `"${c}"`).join(', ');
      const differing = await db.query<{ n: number }>(
        `select count(*)::int as n from (
           (select ${columns} from events where job_id = $1 except all select ${columns} from events where job_id = $2)
           union all
           (select ${columns} from events where job_id = $2 except all select ${columns} from events where job_id = $1)) d`,
        [viaCsv, viaBinary],
      );
      expect(differing[0].n).toBe(0);
      const stored = await db.query<{ n: number }>('select count(*)::int as n from events where job_id = $1', [viaBinary]);
      expect(stored[0].n).toBe(ROWS.length);
      // Spot checks that the comparison compares something: values the encodings could get wrong.
      const [carry] = await db.query<{ at: string }>(`select inserted_at::text as at from events where job_id = $1 and user_id = 'u2'`, [viaBinary]);
      expect(carry.at).toBe('2024-03-01 00:00:00+00');
      const [text] = await db.query<{ ua: string; company: string | null }>(`select user_agent as ua from events where job_id = $1 and user_id = 'u2'`, [viaBinary]);
      expect(text.ua).toBe(LONG_UNICODE);
    });
  }
});

/** Copies timestamps as binary next to their text, and returns the texts Postgres reads as another instant. */
async function timestampsPostgresReadsDifferently(texts: string[]): Promise<string[]> {
  const types: BinaryType[] = ['text', 'timestamptz'];
  const writer = new BinaryCopyWriter();
  for (const t of texts) {
    writer.beginRow(2);
    types.forEach((type) => writer.value(type, t));
  }
  return db.transaction(async (tx) => {
    await tx.query('create temp table stamps (text text, at timestamptz) on commit drop');
    await tx.copy('stamps', ['text', 'at'], Buffer.from(writer.take()), 'binary');
    const rows = await tx.query<{ text: string }>(`select text from stamps where at is distinct from text::timestamptz`);
    return rows.map((r) => r.text);
  });
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const timestampText = fc.record({
  year: fc.integer({ min: 1, max: 9999 }), month: fc.integer({ min: 1, max: 12 }), day: fc.integer({ min: 1, max: 28 }),
  hour: fc.integer({ min: 0, max: 23 }), minute: fc.integer({ min: 0, max: 59 }), second: fc.option(fc.integer({ min: 0, max: 59 })),
  fraction: fc.option(fc.stringMatching(/^\d{1,9}$/)), t: fc.constantFrom('T', ' '),
  zone: fc.option(fc.tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 59 }), fc.constantFrom('', ':', 'hours'))),
  z: fc.boolean(),
}).map((p) => {
  let s = `${pad(p.year, 4)}-${pad(p.month, 2)}-${pad(p.day, 2)}${p.t}${pad(p.hour, 2)}:${pad(p.minute, 2)}`;
  if (p.second !== null) s += `:${pad(p.second, 2)}${p.fraction !== null ? `.${p.fraction}` : ''}`;
  if (p.zone) s += p.zone[3] === 'hours' ? `${p.zone[0]}${pad(p.zone[1], 2)}` : `${p.zone[0]}${pad(p.zone[1], 2)}${p.zone[3]}${pad(p.zone[2], 2)}`;
  else if (p.z) s += 'Z';
  return s;
});

describe('timestamps', () => {
  it('are encoded as the instant Postgres reads from their text, rounding of 7-9 digit fractions included', async () => {
    const texts = fc.sample(timestampText, 3000);
    texts.push('2024-02-29T23:59:59.9999995Z', '2000-01-01T00:00:00.0000005', '2000-01-01T00:00:00.0000015', '1999-12-31T23:59:59.9999999',
      '0001-01-01T00:00:00+15:59', '9999-12-31T23:59:59.999999-15:59', '1970-01-01T00:00:00Z', '2024-06-30 12:00:00.123456789');
    for (const t of texts) expect(readTimestamp(t), t).toBe(TimestampCheck.Ok);
    expect(await timestampsPostgresReadsDifferently(texts)).toEqual([]);
  });

  // The grammar the hand-written reader replaced: it must refuse exactly what this refused.
  const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;
  it('are refused as malformed exactly when they do not match the ISO 8601 forms docs/files.md allows', () => {
    const near = fc.oneof(
      timestampText.chain((t) => fc.tuple(fc.constant(t), fc.nat(t.length), fc.nat(t.length), fc.constantFrom('', '0', '9', ':', '.', '-', '+', 'Z', 'T', ' ', 'x', '１')))
        .map(([t, at, cut, insert]) => t.slice(0, at) + insert + t.slice(Math.min(t.length, at + (cut % 3)))),
      fc.string({ unit: fc.constantFrom(...'0123456789-:T .Z+'), maxLength: 40 }),
    );
    fc.assert(fc.property(near, (s) => {
      expect(readTimestamp(s) === TimestampCheck.BadFormat, s).toBe(!ISO_8601.test(s));
    }), { numRuns: 20000 });
  });

  it('are refused when the date is not real or the offset is beyond what Postgres takes', () => {
    expect(readTimestamp('2023-02-29T00:00:00Z')).toBe(TimestampCheck.NotReal);
    expect(readTimestamp('2024-13-01T00:00:00Z')).toBe(TimestampCheck.NotReal);
    expect(readTimestamp('0000-01-01T00:00:00Z')).toBe(TimestampCheck.NotReal);
    expect(readTimestamp('2024-01-01T24:00:00Z')).toBe(TimestampCheck.NotReal);
    expect(readTimestamp('2024-01-01T00:00:60Z')).toBe(TimestampCheck.NotReal);
    expect(readTimestamp('2024-01-01T00:00:00+16:00')).toBe(TimestampCheck.OffsetOutOfRange);
    expect(readTimestamp('2024-01-01T00:00:00+05:60')).toBe(TimestampCheck.OffsetOutOfRange);
    // Regression: after a timestamp read from bytes, the one-entry cache held '' and took '' for Ok.
    expect(readTimestampBytes(Buffer.from('x2024-07-28T08:55:35Zx'), 1, 21)).toBe(TimestampCheck.Ok);
    expect(readTimestamp('')).toBe(TimestampCheck.BadFormat);
  });
});

/** Valid JSON, an object, not too deep: whether or not Postgres can store its numbers (tested apart). */
const isObject = (s: string, maxDepth: number) => checkJsonObjectText(s, maxDepth) !== JsonTextCheck.NotAnObject;

describe('the JSON object check', () => {
  const jsonDepth = (v: unknown): number => (typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(jsonDepth)) : 0);
  /** The definition it replaced: JSON.parse, an object at the top, at most `max` levels deep. */
  const oracle = (s: string, max: number) => {
    try {
      const v = JSON.parse(s);
      return typeof v === 'object' && v !== null && !Array.isArray(v) && jsonDepth(v) <= max;
    } catch {
      return false;
    }
  };

  it('says yes to every JSON object, however it is spaced', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 })), fc.constantFrom(undefined, 1, '\t', ' \r\n'), (object, space) => {
      const text = JSON.stringify(object, null, space);
      expect(isObject(text, 64)).toBe(oracle(text, 64));
    }), { numRuns: 2000 });
  });

  it('agrees with JSON.parse on broken and near-miss texts', () => {
    const broken = fc.tuple(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })).map((o) => JSON.stringify(o)), fc.nat(), fc.nat(3),
      fc.constantFrom('', '"', '\\', ',', ':', '{', '}', '[', ']', '-', '0', '01', '.', 'e', 'E+', 'tru', 'nul', '\n', '\u0001', '\\u12', '\\x', ' '))
      .map(([s, at, cut, insert]) => { const i = at % (s.length + 1); return s.slice(0, i) + insert + s.slice(i + cut); });
    fc.assert(fc.property(broken, (s) => { expect(isObject(s, 64), s).toBe(oracle(s, 64)); }), { numRuns: 20000 });
    fc.assert(fc.property(fc.string({ unit: fc.constantFrom(...'{}[]":,0123456789.-+eEtruefalsn \\u'), maxLength: 30 }), (s) => {
      expect(isObject(s, 64), s).toBe(oracle(s, 64));
    }), { numRuns: 20000 });
  });

  it('counts nesting as Postgres would need it', () => {
    const nested = (levels: number) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
    expect(isObject(nested(64), 64)).toBe(true);
    expect(isObject(nested(65), 64)).toBe(false);
    expect(isObject(`{"a":${'['.repeat(63)}${']'.repeat(63)}}`, 64)).toBe(true);
    expect(isObject(`{"a":${'['.repeat(64)}${']'.repeat(64)}}`, 64)).toBe(false);
  });

  it('refuses exactly the numbers Postgres refuses to store', async () => {
    const numbers = ['0', '-0.5', '1e131071', '1e131072', '-1e131072', '10e131070', '0.001e131074', '0.001e131075', '0e200000', '0e-20000',
      '1e-16383', '1e-16384', '0.0e-16383', '123.456e-16380', '123.456e-16381', `1${'0'.repeat(131071)}`, `1${'0'.repeat(131072)}`,
      `0.${'0'.repeat(16382)}1`, `0.${'0'.repeat(16383)}1`, '1E+0173185003647432', '1e-0000000000000000000001', '5e00000000000000000000131071',
      '0e1073741823', '-0e01073741823', '0.0e2000000000', '0e99999999999', '0e1073741822', '0e-1073741822'];
    // Postgres 15 refuses an exponent of 2^30-1 or more even on a zero; 16 and later (PGlite) take
    // it. The check refuses it on either, so that one row never fails a batch on Postgres 15.
    const refusedByPostgres15 = new Set(['0e1073741823', '-0e01073741823', '0.0e2000000000', '0e99999999999']);
    for (const n of numbers) {
      const text = `{"a": ${n}}`;
      const postgresTakes = await db.query('select $1::jsonb', [text]).then(() => true, () => false);
      const expected = postgresTakes && !refusedByPostgres15.has(n) ? JsonTextCheck.Object : JsonTextCheck.NumberOutOfRange;
      expect(checkJsonObjectText(text, 64), n.slice(0, 40)).toBe(expected);
    }
  });

  it('reads nothing at or past the end it is given: a field or line read where it lies in a larger buffer', () => {
    // Bytes after the end are another row's or stale ones: any read of them throws here.
    const guarded = (bytes: Buffer, end: number) => readableOnlyWithin(bytes, 0, end);
    const text = fc.string({ unit: fc.constantFrom(...'{}[]":,0123456789.-+eEtruefalsn \\u'), maxLength: 30 });
    const columns = ['a', 'b', 'metadata'];
    fc.assert(fc.property(fc.oneof(text, fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })).map((o) => JSON.stringify(o))), text, (s, after) => {
      const alone = Buffer.from(s);
      const end = alone.length;
      const inBuffer = guarded(Buffer.concat([alone, Buffer.from(`${after}"}]}`)]), end);
      expect(isStorableJsonObjectBytes(inBuffer, 0, end), s).toBe(isStorableJsonObjectBytes(alone, 0, end));
      const start = s.search(/\S/);
      if (start >= 0) expect(jsonValueEnd(inBuffer, start, 64, end), s).toBe(jsonValueEnd(alone, start, 64));
      expect(new NdjsonFields(columns).read(inBuffer, 0, end), s).toBe(new NdjsonFields(columns).read(alone, 0, end));
    }), { numRuns: 20000 });
    // A line cut anywhere, followed by the rest of it: read on, the rest would finish the line.
    const line = fc.tuple(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })))
      .map(([a, metadata]) => JSON.stringify({ a, metadata }));
    // Each reader has read the whole line first, as the line before in a file: its keys are then
    // matched where that line had them, the reader's shortcut.
    const reader = (full: string) => { const fields = new NdjsonFields(columns); fields.read(Buffer.from(full), 0, Buffer.byteLength(full)); return fields; };
    fc.assert(fc.property(line, fc.nat(), (full, at) => {
      const end = Buffer.byteLength(full.slice(0, at % (full.length + 1)));
      const bytes = Buffer.from(full);
      const alone = Buffer.from(bytes.subarray(0, end));
      expect(reader(full).read(guarded(bytes, end), 0, end), full).toBe(reader(full).read(alone, 0, end));
      expect(isStorableJsonObjectBytes(guarded(bytes, end), 0, end), full).toBe(isStorableJsonObjectBytes(alone, 0, end));
    }), { numRuns: 5000 });
  });

  it('finds a member\'s own text, as JSON.parse would read the member', () => {
    fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })), fc.constantFrom(undefined, 1, '\t'), fc.string(), (object, space, absent) => {
      const text = JSON.stringify(object, null, space);
      for (const key of Object.keys(object)) {
        const own = memberText(text, key);
        expect(own, key).not.toBeNull();
        expect(JSON.parse(own!)).toEqual(JSON.parse(text)[key]);
      }
      if (!(absent in object)) expect(memberText(text, absent)).toBeNull();
    }), { numRuns: 2000 });
    expect(memberText('{"a": 1, "a": {"b": 2}}', 'a')).toBe('{"b": 2}'); // the last, as JSON.parse keeps
    expect(memberText('{"\\u0061": 1}', 'a')).toBe('1'); // an escaped key is decoded to compare it
    expect(memberText('{"\\u0062": 2, "a": [1e400]}', 'a')).toBe('[1e400]'); // another key's escape does not matter
  });
});
