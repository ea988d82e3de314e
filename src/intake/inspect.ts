/**
 * Looks at the start of an uploaded file before a job exists: which format it is (file name
 * first, then content), and its header, checked against the kind. Reads at most the first 4 MiB.
 */
import fs from 'node:fs/promises';
import { checkHeader } from '../kinds/columns.js';
import { headersMatch, mappableColumns, mapHeader, refuseMappingForHeader, type ColumnMappingEntry } from '../kinds/columnMapping.js';
import type { ImportKind } from '../kinds/types.js';
import type { FileFormat, ImportFormat } from '../parse/types.js';
import { csvDelimiter } from '../parse/csvDialect.js';
import { splitRecord } from '../parse/csvReader.js';
import { MAX_NDJSON_LINE_BYTES } from '../parse/ndjsonReader.js';

/** A tenant's saved mapping, as inspection weighs it for a file sent without one. */
export interface SavedMappingCandidate { name: string; mapping: ColumnMappingEntry[]; headers: string[] }

/** What the request says about reading a file. */
export interface FileReading {
  /** CSV: the delimiter given with the import (checked already); detected when absent. */
  delimiter?: string | null;
  /** The mapping given with the import (checked against the kind already), for any format. */
  columnMapping?: readonly ColumnMappingEntry[] | null;
  /** A file sent without a mapping: the tenant's saved mappings for the kind, newest first; the first whose headers are the file's applies. */
  savedMappings?: readonly SavedMappingCandidate[];
  /** XLSX: the sheet asked for; any other format refuses it. */
  sheet?: string | null;
}

interface InspectOptions extends FileReading {
  filename?: string | null;
  format?: FileFormat | null;
  kind: ImportKind;
}

export const HEAD_BYTES = MAX_NDJSON_LINE_BYTES + 2;

/** How a CSV file is read: its delimiter. */
export interface CsvReading { delimiter: string }

/** The mapping applied to a file's column names (given, or a saved one by name), in any format. */
export interface ColumnReading { columnMapping: ColumnMappingEntry[] | null; columnMappingName: string | null }

type Refusal = { ok: false; code: 'INVALID_FILE' | 'SCHEMA_MISMATCH' | 'INVALID_INPUT'; message: string; field?: string[]; fileColumns?: string[] };

export type Inspection =
  /**
   * header: a CSV's header as written, kept with the job; fileColumns: the names the file gives
   * its columns (the CSV or XLSX header, the first NDJSON record's keys), which a mapping is
   * checked against and saved with; columns: the kind's names for them (mapped); csv: how the
   * CSV is read; mapping: the one applied.
   */
  | { ok: true; format: FileFormat; header: string[] | null; fileColumns: string[]; columns: string[]; csv: CsvReading | null; mapping: ColumnReading }
  | Refusal;

const UNMAPPED: ColumnReading = { columnMapping: null, columnMappingName: null };

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
  if (opts.sheet != null && format !== 'XLSX') return sheetRefused(format);
  if (format === 'CSV') return inspectCsv(head, wholeFile, opts);
  if (opts.delimiter) return { ok: false, code: 'INVALID_INPUT', message: `delimiter is for CSV files; this one is ${format}`, field: ['input', 'delimiter'] };
  const inspection = inspectNdjson(head, { ...opts, format });
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
  const csv: CsvReading = { delimiter };
  if (kind.fromRecord) return { ok: true, format: 'CSV', header, fileColumns: header, columns: header, csv, mapping: UNMAPPED }; // any columns: the record is the data
  const named = nameColumns(kind, header, "the file's header", opts);
  if (!named.ok) return named;
  if (wholeFile && head.slice(firstLine.length).trim() === '') {
    return { ok: false, code: 'INVALID_FILE', message: 'The file has a header (line 1) but no rows' };
  }
  return { ok: true, format: 'CSV', header, fileColumns: header, columns: named.columns, csv, mapping: named.mapping };
}

/**
 * The file's column names (`names`: a header, or the first record's keys) read through the
 * mapping given, else through the tenant's newest saved mapping made for the same names, and
 * checked against the kind: every format goes through here, so each gets the same mappings, the
 * same refusals and the same "did you mean" hints.
 */
function nameColumns(kind: ImportKind, names: readonly string[], namesAre: string | null, opts: FileReading):
  { ok: true; mapping: ColumnReading; columns: string[] } | Refusal {
  let mapping = UNMAPPED;
  if (opts.columnMapping) {
    // namesAre null: `names` need not hold every name the mapping gives (NDJSON's first record).
    const misfit = namesAre === null ? null : refuseMappingForHeader(names, opts.columnMapping, namesAre);
    if (misfit) return { ok: false, code: 'INVALID_INPUT', message: misfit, field: ['input', 'columnMapping'], fileColumns: mappableColumns(names) };
    mapping = { columnMapping: [...opts.columnMapping], columnMappingName: null };
  } else {
    const saved = opts.savedMappings?.find((m) => headersMatch(m.headers, names));
    if (saved) mapping = { columnMapping: saved.mapping, columnMappingName: saved.name };
  }
  const mapped = mapHeader(names, mapping.columnMapping);
  const check = checkHeader(kind, mapped);
  if (!check.ok) {
    const tried = mapping.columnMappingName ? ` (with the saved column mapping "${mapping.columnMappingName}")` : mapping.columnMapping ? ' (with the columnMapping given)' : '';
    const advice = mapping.columnMapping ? '' : ' Send columnMapping to name the kind\'s column for each of yours.';
    return { ok: false, code: 'SCHEMA_MISMATCH', message: check.message.replace(/^The file's columns/, `The file's columns${tried}`) + advice, fileColumns: mappableColumns(names) };
  }
  return { ok: true, mapping, columns: mapped.filter((n): n is string => n !== null) };
}

/** `sheet` names a sheet of a workbook: any other file refuses it rather than ignore it. */
export function sheetRefused(format: string): Refusal {
  return { ok: false, code: 'INVALID_INPUT', message: `sheet is for XLSX workbooks; this file is ${format}: send it without sheet`, field: ['input', 'sheet'] };
}

function inspectNdjson(head: string, opts: InspectOptions & { format: FileFormat }): Inspection {
  const { kind } = opts;
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
  const keys = Object.keys(first);
  if (kind.fromRecord) return { ok: true, format: 'NDJSON', header: null, fileColumns: keys, columns: keys, csv: null, mapping: UNMAPPED };
  // Optional fields may be absent from any one NDJSON record, so only unknown fields and a
  // missing required field are judged from the first record, and a mapping may name keys it
  // lacks (a later line may have them). An XLSX sheet's rows each hold every column of its
  // header: there the first record's keys are the header, and a mapping must fit it.
  const xlsx = opts.format === 'XLSX';
  const named = nameColumns(kind, keys, xlsx ? "the sheet's header" : null, opts);
  if (!named.ok) return named;
  return { ok: true, format: 'NDJSON', header: null, fileColumns: keys, columns: named.columns, csv: null, mapping: named.mapping };
}
