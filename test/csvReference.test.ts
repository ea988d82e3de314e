/**
 * The project's CSV reader (parse/csvReader.ts, framing and splitting) against csv-parse, the
 * reference the service started from: random files with quotes, doubled quotes, embedded line
 * ends, LF / CRLF / CR, a BOM or none, and each delimiter the service detects, must give exactly
 * the records csv-parse gives. Files with malformed quoting must fail at the same record, with the
 * same kind of error, after the same records.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCsv } from '../src/parse/csvReader.js';
import { DETECTED_DELIMITERS } from '../src/parse/csvDialect.js';
import type { SourceRecord } from '../src/parse/types.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const EOLS = ['\n', '\r\n', '\r'] as const;

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), 'csv-reference-')); });
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

let fileNo = 0;
async function ourRecords(text: string, delimiter: string, chunkBytes: number): Promise<SourceRecord[]> {
  const file = path.join(dir, `${fileNo++}.csv`);
  await fs.writeFile(file, text);
  const records: SourceRecord[] = [];
  for await (const batch of readCsv({ path: file, offset: 0, line: 0, batchSize: 7, chunkBytes, skipHeader: false, delimiter })) records.push(...batch.records);
  await fs.rm(file);
  return records;
}

/** csv-parse as the service would configure it: the delimiter, a BOM taken off, blank lines skipped, rows of any width. */
function reference(text: string, delimiter: string): { records: string[][]; error: { code: string; message: string } | null } {
  const records: string[][] = [];
  try {
    parse(text, { delimiter, bom: true, skip_empty_lines: true, relax_column_count: true, on_record: (r: string[]) => { records.push(r); return r; } });
    return { records, error: null };
  } catch (err) {
    return { records, error: { code: (err as { code: string }).code, message: (err as Error).message } };
  }
}

const fieldText = fc.string({
  unit: fc.constantFrom(',', ';', '\t', '|', '"', '""', '\r', '\n', '\r\n', ' ', 'a', 'Z', '7', 'é', '€', '😀'),
  maxLength: 6,
});

const fileSpec = fc.record({
  delimiter: fc.constantFrom(...DETECTED_DELIMITERS),
  eol: fc.constantFrom(...EOLS),
  bom: fc.boolean(),
  records: fc.array(fc.record({
    fields: fc.array(fieldText, { minLength: 1, maxLength: 5 }),
    forceQuote: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    blankLinesAfter: fc.nat(2),
  }), { minLength: 1, maxLength: 8 }),
  finalEol: fc.boolean(),
  chunkBytes: fc.constantFrom(1, 3, 16, 1 << 20),
});
type FileSpec = typeof fileSpec extends fc.Arbitrary<infer T> ? T : never;

function quote(field: string, delimiter: string, force: boolean): string {
  return force || field.includes(delimiter) || /["\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

function encodedRecords(spec: FileSpec): string[] {
  return spec.records.map((r) => r.fields.map((f, i) => quote(f, spec.delimiter, r.forceQuote[i])).join(spec.delimiter));
}

function assemble(spec: FileSpec, lines: string[]): string {
  let text = spec.bom ? '\uFEFF' : '';
  lines.forEach((line, i) => {
    text += line;
    if (i < lines.length - 1 || spec.finalEol) text += spec.eol + spec.eol.repeat(spec.records[i].blankLinesAfter);
  });
  return text;
}

describe('the CSV reader gives exactly the records csv-parse gives', () => {
  it('for well-formed files of every delimiter, line end and quoting', async () => {
    await fc.assert(fc.asyncProperty(fileSpec, async (spec) => {
      const text = assemble(spec, encodedRecords(spec));
      const expected = reference(text, spec.delimiter);
      expect(expected.error).toBeNull();
      const ours = await ourRecords(text, spec.delimiter, spec.chunkBytes);
      expect(ours.map((r) => r.parseError ?? r.fields)).toEqual(expected.records);
    }), { numRuns: RUNS });
  });

  // What each of csv-parse's quoting errors is called in ours.
  const SAME_ERROR: Record<string, RegExp> = {
    INVALID_OPENING_QUOTE: /^a quote inside unquoted field/,
    CSV_INVALID_CLOSING_QUOTE: /^unexpected text after the closing quote/,
    CSV_QUOTE_NOT_CLOSED: /^a quote opens here and is never closed|^unclosed quote/,
  };
  const faults = {
    quoteInside: (d: string) => `ab"c${d}x`,
    textAfterClosingQuote: (d: string) => `"ab"c${d}x`,
    neverClosed: (d: string) => `"ab${d}c`,
  };

  it('and fails malformed quoting at the same record, with the same error, after the same records', async () => {
    await fc.assert(fc.asyncProperty(
      fileSpec, fc.constantFrom(...(Object.keys(faults) as (keyof typeof faults)[])), fc.nat(), fc.nat(),
      async (spec, fault, recordAt, fieldAt) => {
        const lines = encodedRecords(spec);
        // An unclosed quote runs to the end of the file in both readers: put it in the last record.
        const r = fault === 'neverClosed' ? lines.length - 1 : recordAt % lines.length;
        const fields = spec.records[r].fields.map((f, i) => quote(f, spec.delimiter, spec.records[r].forceQuote[i]));
        fields[fault === 'neverClosed' ? fields.length - 1 : fieldAt % fields.length] = faults[fault](spec.delimiter);
        lines[r] = fields.join(spec.delimiter);
        const text = assemble(spec, lines);

        const expected = reference(text, spec.delimiter);
        expect(expected.error, text).not.toBeNull();
        const ours = await ourRecords(text, spec.delimiter, spec.chunkBytes);
        const firstError = ours.findIndex((rec) => rec.parseError !== undefined);
        expect(firstError).toBe(expected.records.length);
        expect(ours.slice(0, firstError).map((rec) => rec.fields)).toEqual(expected.records);
        expect(ours[firstError].parseError).toMatch(SAME_ERROR[expected.error!.code]);
      },
    ), { numRuns: RUNS });
  });
});
