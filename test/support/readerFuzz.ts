/**
 * Generators and models for test/readers.fuzz.test.ts: random CSV tables and NDJSON files, the
 * bytes they encode to, and the records a reader must give back for them (worked out from the
 * generated values, not by re-reading the bytes).
 */
import fc from 'fast-check';
import type { RecordBatch, SourceRecord } from '../../src/parse/types.js';

// ---------------------------------------------------------------- CSV

const EOLS = ['\n', '\r\n', '\r'] as const;

/** Field text: heavy on what CSV must quote (comma, quote, CR, LF), plus multibyte UTF-8 and any code point. */
const fieldUnit = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(',', '"', '""', '\r', '\n', '\r\n', ' ') },
  { weight: 3, arbitrary: fc.constantFrom('a', 'B', '7', 'é', 'ß', '€', '中', '😀', '\uFFFD', '\u0000', '\t', "'", '\uFEFF') },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
export const csvField = fc.oneof({ weight: 1, arbitrary: fc.constant('') }, { weight: 4, arbitrary: fc.string({ unit: fieldUnit, maxLength: 8 }) });

export interface CsvRecordSpec {
  fields: string[];
  /** Per field: quote it even when it need not be. */
  forceQuote: boolean[];
  eol: string;
  /** Blank lines after the record (each with its own line end). */
  blankLines: string[];
}

const csvRecord = (field: fc.Arbitrary<string>) => fc.record({
  fields: fc.array(field, { minLength: 1, maxLength: 5 }),
  forceQuote: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
  eol: fc.constantFrom(...EOLS),
  blankLines: fc.oneof({ weight: 4, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom(...EOLS), { minLength: 1, maxLength: 2 }) }),
});

export interface CsvTableSpec {
  bom: boolean;
  /** Blank lines before the header (skipped; after a BOM they show whether the BOM was taken off). */
  leadingBlankLines: string[];
  header: CsvRecordSpec;
  rows: CsvRecordSpec[];
  finalEol: boolean;
}

export const csvTable: fc.Arbitrary<CsvTableSpec> = fc.record({
  bom: fc.boolean(),
  leadingBlankLines: fc.oneof({ weight: 3, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: fc.array(fc.constantFrom(...EOLS), { minLength: 1, maxLength: 2 }) }),
  // Header names: plain text (a header starting with U+FEFF would be a BOM).
  header: csvRecord(fc.string({ unit: fc.constantFrom('a', 'b', '_', ' ', ',', '"', 'é'), minLength: 1, maxLength: 6 })),
  rows: fc.array(csvRecord(csvField), { maxLength: 12 }),
  finalEol: fc.boolean(),
});

/** RFC 4180 text of one record, without its line end. */
export function encodeCsvRecord(spec: CsvRecordSpec): string {
  const cells = spec.fields.map((f, i) => (spec.forceQuote[i] || /[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f));
  const text = cells.join(',');
  // One empty unquoted field would be a blank line, which readers skip: quote it.
  return text === '' ? '""' : text;
}

export interface ExpectedCsv {
  bytes: Buffer;
  /** The data records (header excluded): line of their first line, raw text, fields. */
  records: { line: number; raw: string; fields: string[] }[];
  endLine: number;
}

const LINE_BREAKS = /\r\n|\r|\n/g;
const countBreaks = (s: string) => s.match(LINE_BREAKS)?.length ?? 0;

export function buildCsv(table: CsvTableSpec): ExpectedCsv {
  let text = table.leadingBlankLines.join('');
  const records: ExpectedCsv['records'] = [];
  const all = [table.header, ...table.rows];
  all.forEach((spec, i) => {
    const raw = encodeCsvRecord(spec);
    if (i > 0) records.push({ line: 1 + countBreaks(text), raw, fields: spec.fields });
    text += raw;
    if (i < all.length - 1 || table.finalEol) text += spec.eol + spec.blankLines.join('');
  });
  const endsOnBreak = /[\r\n]$/.test(text);
  return {
    bytes: Buffer.from((table.bom ? '\uFEFF' : '') + text, 'utf8'),
    records,
    endLine: countBreaks(text) + (endsOnBreak ? 0 : 1),
  };
}

// ---------------------------------------------------------------- NDJSON

const nonLfUnit = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\r', '\\', 'u', '0', ' ', 'é', '😀', '\uFFFD', '\u2028') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((s) => s !== '\n') },
);

export interface NdjsonLineSpec { text: string; crlf: boolean }

export const ndjsonLine: fc.Arbitrary<NdjsonLineSpec> = fc.record({
  text: fc.oneof(
    { weight: 5, arbitrary: fc.jsonValue({ stringUnit: 'binary', maxDepth: 2, depthSize: 'xsmall' }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom('', ' ', '\t', ' \t ', '\u00a0') },
    { weight: 2, arbitrary: fc.string({ unit: nonLfUnit, maxLength: 20 }) },
  ),
  crlf: fc.boolean(),
});

export interface NdjsonFileSpec { bom: boolean; lines: NdjsonLineSpec[]; finalEol: boolean }

export const ndjsonFile: fc.Arbitrary<NdjsonFileSpec> = fc.record({
  bom: fc.boolean(),
  lines: fc.array(ndjsonLine, { minLength: 1, maxLength: 10 }),
  finalEol: fc.boolean(),
});

export interface ExpectedNdjson {
  bytes: Buffer;
  records: ({ line: number; raw: string; json: unknown } | { line: number; raw: string; parseError: string })[];
  endLine: number;
}

/** What the NDJSON reader documents: LF ends a line, one trailing CR is dropped, a BOM on line 1 too, blank lines skipped. */
export function buildNdjson(file: NdjsonFileSpec): ExpectedNdjson {
  const contents = file.lines.map((l, i) => (i === 0 && file.bom ? '\uFEFF' : '') + l.text + (l.crlf ? '\r' : ''));
  const records: ExpectedNdjson['records'] = [];
  contents.forEach((content, i) => {
    let text = content.endsWith('\r') ? content.slice(0, -1) : content;
    if (i === 0 && text.startsWith('\uFEFF')) text = text.slice(1);
    if (text.trim() === '') return;
    try {
      records.push({ line: i + 1, raw: text, json: JSON.parse(text) });
    } catch (err) {
      records.push({ line: i + 1, raw: text, parseError: `invalid JSON: ${(err as Error).message}` });
    }
  });
  const n = contents.length;
  const body = contents.join('\n') + (file.finalEol ? '\n' : '');
  return {
    bytes: Buffer.from(body, 'utf8'),
    records,
    endLine: file.finalEol ? n : n - 1 + (contents[n - 1].length > 0 ? 1 : 0),
  };
}

// ---------------------------------------------------------------- reading

export interface ReadResult { batches: RecordBatch[]; records: SourceRecord[]; endOffset: number; endLine: number }

/** Every batch of a reader, and its records in order. */
export async function readAll(reader: AsyncGenerator<RecordBatch>): Promise<ReadResult> {
  const batches: RecordBatch[] = [];
  for await (const batch of reader) batches.push(batch);
  const last = batches[batches.length - 1];
  return { batches, records: batches.flatMap((b) => b.records), endOffset: last.endOffset, endLine: last.endLine };
}
