/**
 * Looks at the start of an uploaded file before a job exists: which format it is (file name
 * first, then content), and its header, checked against the kind. Reads at most the first 4 MiB.
 */
import fs from 'node:fs/promises';
import { checkHeader } from '../kinds/columns.js';
import { headersMatch, mapHeader, refuseMappingForHeader, type ColumnMappingEntry } from '../kinds/columnMapping.js';
import type { ImportKind } from '../kinds/types.js';
import type { FileFormat, ImportFormat } from '../parse/types.js';
import { csvDelimiter } from '../parse/csvDialect.js';
import { splitRecord } from '../parse/csvReader.js';
import { MAX_NDJSON_LINE_BYTES } from '../parse/ndjsonReader.js';

/** A tenant's saved mapping, as inspection weighs it for a file sent without one. */
export interface SavedMappingCandidate { name: string; mapping: ColumnMappingEntry[]; headers: string[] }

/** What the request says about reading a CSV file. */
export interface FileReading {
  /** CSV: the delimiter given with the import (checked already); detected when absent. */
  delimiter?: string | null;
  /** CSV: the mapping given with the import (checked against the kind already). */
  columnMapping?: readonly ColumnMappingEntry[] | null;
  /** CSV sent without a mapping: the tenant's saved mappings for the kind, newest first; the first whose headers are the file's applies. */
  savedMappings?: readonly SavedMappingCandidate[];
}

interface InspectOptions extends FileReading {
  filename?: string | null;
  format?: FileFormat | null;
  kind: ImportKind;
}

export const HEAD_BYTES = MAX_NDJSON_LINE_BYTES + 2;

/** How a CSV file is read: its delimiter, and the mapping applied to its header (given, or a saved one by name). */
export interface CsvReading { delimiter: string; columnMapping: ColumnMappingEntry[] | null; columnMappingName: string | null }

export type Inspection =
  /**
   * header: a CSV's header as written, kept with the job; columns: the kind's names for the CSV
   * header's columns (mapped) or the first NDJSON record's keys; csv: how the CSV is read.
   */
  | { ok: true; format: FileFormat; header: string[] | null; columns: string[]; csv: CsvReading | null }
  | { ok: false; code: 'INVALID_FILE' | 'SCHEMA_MISMATCH' | 'INVALID_INPUT'; message: string; field?: string[] };

function formatFromName(filename: string | null | undefined): ImportFormat | null {
  const ext = /\.([a-z0-9]+)$/i.exec(filename ?? '')?.[1]?.toLowerCase();
  if (ext === 'csv' || ext === 'tsv') return 'CSV';
  if (ext === 'ndjson' || ext === 'jsonl' || ext === 'json') return 'NDJSON';
  return null;
}

export async function inspectFile(path: string, opts: InspectOptions): Promise<Inspection> {
  const handle = await fs.open(path, 'r');
  let bytes: Buffer;
  try {
    const buf = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await handle.read(buf, 0, HEAD_BYTES, 0);
    bytes = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  return inspectHead(bytes, opts);
}

/** The same from the file's first HEAD_BYTES bytes (all of it when shorter), as an S3 spool keeps them. */
export function inspectHead(bytes: Buffer, opts: InspectOptions): Inspection {
  bytes = bytes.subarray(0, HEAD_BYTES);
  const head = bytes.toString('utf8').replace(/^\ufeff/, '');
  const wholeFile = bytes.length < HEAD_BYTES;
  const firstChar = /\S/.exec(head)?.[0];
  if (firstChar === undefined) return { ok: false, code: 'INVALID_FILE', message: 'The file is empty' };
  if (firstChar === '[') {
    return { ok: false, code: 'INVALID_FILE', message: 'The file is one JSON array; send NDJSON instead: one JSON object per line' };
  }
  const format = opts.format ?? formatFromName(opts.filename) ?? (firstChar === '{' ? 'NDJSON' : 'CSV');
  if (format === 'CSV') return inspectCsv(head, wholeFile, opts);
  if (opts.delimiter) return { ok: false, code: 'INVALID_INPUT', message: 'delimiter is for CSV files; this one is NDJSON', field: ['input', 'delimiter'] };
  if (opts.columnMapping) return { ok: false, code: 'INVALID_INPUT', message: 'columnMapping is for CSV files; NDJSON fields are matched by name', field: ['input', 'columnMapping'] };
  const inspection = inspectNdjson(head, opts.kind);
  // An XLSX workbook is spooled as NDJSON (intake/xlsxRows.ts); the job says what was sent.
  return inspection.ok ? { ...inspection, format } : inspection;
}

function inspectCsv(head: string, wholeFile: boolean, opts: InspectOptions): Inspection {
  const { kind } = opts;
  const firstLine = head.split(/\r?\n|\r/, 1)[0];
  if (firstLine.includes('\0')) return { ok: false, code: 'INVALID_FILE', message: 'Line 1 holds NUL bytes: this does not look like a CSV text file' };
  const delimiter = csvDelimiter(firstLine, opts.delimiter, opts.filename);
  const record = splitRecord(firstLine, 1, delimiter);
  if (record.parseError !== undefined) {
    return { ok: false, code: 'INVALID_FILE', message: `Line 1: the CSV header cannot be read: ${record.parseError}` };
  }
  const header = record.fields!;
  const plain: CsvReading = { delimiter, columnMapping: null, columnMappingName: null };
  if (kind.fromRecord) return { ok: true, format: 'CSV', header, columns: header, csv: plain }; // any columns: the record is the data
  let csv = plain;
  if (opts.columnMapping) {
    const misfit = refuseMappingForHeader(header, opts.columnMapping);
    if (misfit) return { ok: false, code: 'INVALID_INPUT', message: misfit, field: ['input', 'columnMapping'] };
    csv = { ...plain, columnMapping: [...opts.columnMapping] };
  } else {
    const saved = opts.savedMappings?.find((m) => headersMatch(m.headers, header));
    if (saved) csv = { ...plain, columnMapping: saved.mapping, columnMappingName: saved.name };
  }
  const mapped = mapHeader(header, csv.columnMapping);
  const check = checkHeader(kind, mapped);
  if (!check.ok) {
    const tried = csv.columnMappingName ? ` (with the saved column mapping "${csv.columnMappingName}")` : csv.columnMapping ? ' (with the columnMapping given)' : '';
    const advice = csv.columnMapping ? '' : ' Send columnMapping to name the kind\'s column for each of yours.';
    return { ok: false, code: 'SCHEMA_MISMATCH', message: check.message.replace(/^The file's columns/, `The file's columns${tried}`) + advice };
  }
  if (wholeFile && head.slice(firstLine.length).trim() === '') {
    return { ok: false, code: 'INVALID_FILE', message: 'The file has a header (line 1) but no rows' };
  }
  return { ok: true, format: 'CSV', header, columns: mapped.filter((n): n is string => n !== null), csv };
}

function inspectNdjson(head: string, kind: ImportKind): Inspection {
  const lines = head.split('\n');
  const index = lines.findIndex((l) => l.trim() !== '');
  const firstLine = lines[index];
  let first: unknown;
  try {
    first = JSON.parse(firstLine);
  } catch (err) {
    const complete = index < lines.length - 1;
    if (!complete) return { ok: false, code: 'INVALID_FILE', message: `Line ${index + 1} is longer than ${HEAD_BYTES} bytes` };
    return { ok: false, code: 'INVALID_FILE', message: `Line ${index + 1} is not valid JSON (${(err as Error).message}); the file must be NDJSON: one JSON object per line` };
  }
  if (typeof first !== 'object' || first === null || Array.isArray(first)) {
    return { ok: false, code: 'INVALID_FILE', message: `Line ${index + 1} is not a JSON object; the file must be NDJSON: one JSON object per line` };
  }
  if (kind.fromRecord) return { ok: true, format: 'NDJSON', header: null, columns: Object.keys(first), csv: null };
  const check = checkHeader(kind, Object.keys(first));
  // Optional fields may be absent from any one NDJSON record, so only unknown fields and a
  // missing required field are judged from the first record.
  if (!check.ok) return { ok: false, code: 'SCHEMA_MISMATCH', message: check.message };
  return { ok: true, format: 'NDJSON', header: null, columns: Object.keys(first), csv: null };
}
