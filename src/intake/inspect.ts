/**
 * Looks at the start of an uploaded file before a job exists: which format it is (file name
 * first, then content), and its header, checked against the kind. Reads at most the first 4 MiB.
 */
import fs from 'node:fs/promises';
import { checkHeader } from '../kinds/columns.js';
import type { ImportKind } from '../kinds/types.js';
import type { FileFormat, ImportFormat } from '../parse/types.js';
import { splitRecord } from '../parse/csvReader.js';
import { MAX_NDJSON_LINE_BYTES } from '../parse/ndjsonReader.js';

// Enough for a first NDJSON line as long as the reader allows (MAX_NDJSON_LINE_BYTES).
interface InspectOptions { filename?: string | null; format?: FileFormat | null; kind: ImportKind }

export const HEAD_BYTES = MAX_NDJSON_LINE_BYTES + 2;

export type Inspection =
  /** header: a CSV's header, kept with the job; columns: the CSV header or the first NDJSON record's keys. */
  | { ok: true; format: FileFormat; header: string[] | null; columns: string[] }
  | { ok: false; code: 'INVALID_FILE' | 'SCHEMA_MISMATCH'; message: string };

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
  if (format === 'CSV') return inspectCsv(head, wholeFile, opts.kind);
  const inspection = inspectNdjson(head, opts.kind);
  // An XLSX workbook is spooled as NDJSON (intake/xlsxRows.ts); the job says what was sent.
  return inspection.ok ? { ...inspection, format } : inspection;
}

function inspectCsv(head: string, wholeFile: boolean, kind: ImportKind): Inspection {
  const firstLine = head.split(/\r?\n|\r/, 1)[0];
  if (firstLine.includes('\0')) return { ok: false, code: 'INVALID_FILE', message: 'Line 1 holds NUL bytes: this does not look like a CSV text file' };
  const record = splitRecord(firstLine, 1);
  if (record.parseError !== undefined) {
    return { ok: false, code: 'INVALID_FILE', message: `Line 1: the CSV header cannot be read: ${record.parseError}` };
  }
  const header = record.fields!;
  if (kind.fromRecord) return { ok: true, format: 'CSV', header, columns: header }; // any columns: the record is the data
  const check = checkHeader(kind, header);
  if (!check.ok) return { ok: false, code: 'SCHEMA_MISMATCH', message: check.message };
  if (wholeFile && head.slice(firstLine.length).trim() === '') {
    return { ok: false, code: 'INVALID_FILE', message: 'The file has a header (line 1) but no rows' };
  }
  return { ok: true, format: 'CSV', header, columns: header };
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
  if (kind.fromRecord) return { ok: true, format: 'NDJSON', header: null, columns: Object.keys(first) };
  const check = checkHeader(kind, Object.keys(first));
  // Optional fields may be absent from any one NDJSON record, so only unknown fields and a
  // missing required field are judged from the first record.
  if (!check.ok) return { ok: false, code: 'SCHEMA_MISMATCH', message: check.message };
  return { ok: true, format: 'NDJSON', header: null, columns: Object.keys(first) };
}
