/**
 * Turns a batch of source records into what one transaction writes: the valid rows as COPY data
 * (parse/copyData.ts), and the row errors. Pure: no I/O, so it runs in the parse thread
 * (parse/parseThread.ts).
 *
 * Hot path, once per row: no closures or per-row objects beyond the values themselves. COPY's
 * column list follows a CSV file's column order, so that a valid CSV record whose values pass
 * through unchanged can go to a CSV COPY as its own raw text.
 */
import { createCopyDataBuilder, type CopyEncoding } from './copyData.js';
import { BytePathResult, createBytePath, type FileFields } from './bytePath.js';
import { decodeCsvRecord } from './csvReader.js';
import { decodeNdjsonLine } from './ndjsonReader.js';
import { checkHeader, createKeyMatcher } from '../kinds/columns.js';
import { columnNamer, mapHeader, type ColumnMappingEntry } from '../kinds/columnMapping.js';
import type { RecordBytes, ImportFormat, RecordBatch, SourceRecord } from './types.js';
import { ROW_ORIGIN_COLUMNS, type ErrorSink, type ImportKind, type RowError, type UpsertRow } from '../kinds/types.js';
import { holdsNumber, JsonText, memberText } from '../codecs/jsonText.js';
import { isTooLongForKey, MAX_KEY_BYTES, shown } from '../kinds/values.js';

/**
 * A batch's counts and errors. Its COPY data is taken apart (RowPipeline.takeCopyData): the valid
 * rows to COPY straight into the table, and those that carry the kind's dedup key, which go
 * through a staging table and ON CONFLICT DO NOTHING (`rowsKeyed` of them).
 */
export interface PreparedBatch {
  rowsKeyed: number;
  /** Roster kinds (ImportKind.upsert): the valid rows' values, decided and written on the main thread's transaction. */
  upsertRows: UpsertRow[];
  rowsValid: number;
  rowsFailed: number;
  rowsProcessed: number;
  errors: (RowError & { rawRow: string })[];
  /** Where the batch starts in the file: the checkpoint it must follow. */
  startOffset: number;
  endOffset: number;
  endLine: number;
}

export interface RowContext {
  kind: ImportKind;
  format: ImportFormat;
  header: string[] | null;
  /** CSV: the delimiter (a comma when absent). */
  delimiter?: string | null;
  /** The mapping applied to a CSV's header, or to each NDJSON line's keys (kinds/columnMapping.ts). */
  columnMapping?: readonly ColumnMappingEntry[] | null;
  tenantId: string;
  jobId: string;
  /** Byte offset of the first batch (the job's checkpoint). */
  startOffset: number;
  /** Values of the kind's jobColumns (e.g. { collection: 'purchases' }). */
  jobValues?: Record<string, string | null>;
  /** How rows are encoded for COPY; CSV unless given. */
  copy?: CopyEncoding;
}

/** COPY's column list comes from copyColumnsFor, on the main thread, from the same job fields. */
export interface RowPipeline {
  /** Records may come as bytes (the readers' `decode: false`): those that can take the byte path do. */
  prepare(batch: RecordBatch<SourceRecord | RecordBytes>): PreparedBatch;
  /** The COPY data of the valid rows prepared since the last call: plain rows, and keyed rows (read them before the next prepare). */
  takeCopyData(): { copyData: Buffer; keyedData: Buffer };
  /** About how many bytes of COPY data the rows prepared since the last takeCopyData make. */
  copyBytes(): number;
}

export function createRowPipeline(ctx: RowContext): RowPipeline {
  const { kind } = ctx;

  // Per-batch state, read by the one `fail` function below.
  let errors: PreparedBatch['errors'] = [];
  let current: SourceRecord;
  let currentFailed = false;
  const fail: ErrorSink = (column, value, message) => {
    currentFailed = true;
    errors.push({ line: current.line, column, value: shown(value), message, rawRow: current.raw });
  };

  const writer = kind.fromRecord ? anyShapeRowWriter(ctx, fail) : ctx.format === 'CSV' ? csvRowWriter(ctx, fail) : ndjsonRowWriter(ctx, fail);
  const keyIndex = kind.dedupColumn ? kind.columns.findIndex((c) => c.name === kind.dedupColumn) : -1;
  // The column a unique index is built on: the dedup key, or a roster kind's natural key.
  const uniqueIndex = kind.upsert ? kind.columns.findIndex((c) => c.dbColumn === kind.upsert!.keyColumn) : keyIndex;
  const uniqueName = uniqueIndex >= 0 ? kind.columns[uniqueIndex].name : '';
  const encoding = ctx.copy ?? { format: 'csv' };
  const origin = { tenantId: ctx.tenantId, jobId: ctx.jobId, jobValues: (kind.jobColumns ?? []).map((c) => ctx.jobValues?.[c] ?? null) };
  const plain = createCopyDataBuilder(encoding, origin, writer.order);
  const keyed = createCopyDataBuilder(encoding, origin, writer.order);
  const rawCsvWanted = encoding.format === 'csv'; // only a CSV COPY can take a record's raw text
  const delimiter = ctx.delimiter ?? ',';
  // Rows of a kind that can check them as bytes, into binary COPY data, skip building strings.
  // The NDJSON byte path reads keys that are the kind's names exactly: a mapped file's lines (whose
  // keys the mapping may rename or ignore) go the string way, through columnNamer.
  const mappedNdjson = ctx.format === 'NDJSON' && (ctx.columnMapping?.length ?? 0) > 0;
  const bytePath = encoding.format === 'binary' && !mappedNdjson
    ? createBytePath({ kind, format: ctx.format, order: writer.order, fileFields: writer.fileFields, delimiter, keyColumn: keyIndex, uniqueColumn: uniqueIndex }) : null;

  let nextStart = ctx.startOffset;
  return {
    takeCopyData: () => ({ copyData: plain.take(), keyedData: keyed.take() }),
    copyBytes: () => plain.bytes() + keyed.bytes(),
    prepare(batch) {
      errors = [];
      const upsertRows: UpsertRow[] = [];
      let rowsFailed = 0;
      let rowsCopied = 0;
      let rowsKeyed = 0;
      for (const read of batch.records) {
        let record: SourceRecord;
        if (read.data !== undefined) {
          const taken = bytePath ? bytePath.add(read, plain, keyed) : BytePathResult.Declined;
          if (taken === BytePathResult.Plain) { rowsCopied++; continue; }
          if (taken === BytePathResult.Keyed) { rowsKeyed++; continue; }
          const decoded = ctx.format === 'CSV' ? decodeCsvRecord(read, delimiter) : decodeNdjsonLine(read);
          if (!decoded) throw new Error(`line ${read.line} was given as bytes but is blank`); // readNdjson gives only lines that open an object
          record = decoded;
        } else record = read;
        current = record;
        currentFailed = false;
        if (record.parseError !== undefined) fail(null, null, record.parseError);
        else {
          const row = writer.check(record);
          if (row !== null && uniqueIndex >= 0) {
            const key = row[uniqueIndex];
            if (key !== null && isTooLongForKey(key)) fail(uniqueName, key.slice(0, 100), `${uniqueName} is longer than ${MAX_KEY_BYTES} bytes`);
          }
          // COPY data only for rows that passed, and never for roster rows: those are decided
          // and written on the main thread (runner/upsertRows.ts).
          if (!currentFailed && row !== null) {
            if (kind.upsert) upsertRows.push({ line: record.line, values: row, raw: record.raw });
            else {
              const isKeyed = keyIndex >= 0 && row[keyIndex] !== null;
              (isKeyed ? keyed : plain).add(record.line, row, rawCsvWanted ? writer.unchangedRaw(record, row) : null);
              if (isKeyed) rowsKeyed++;
              else rowsCopied++;
            }
          }
        }
        if (currentFailed) rowsFailed++;
      }
      return {
        rowsKeyed,
        upsertRows,
        rowsValid: rowsCopied + rowsKeyed + upsertRows.length,
        rowsFailed,
        rowsProcessed: batch.records.length,
        errors,
        startOffset: nextStart,
        endOffset: (nextStart = batch.endOffset),
        endLine: batch.endLine,
      };
    },
  };
}

type HeaderFields = Pick<RowContext, 'kind' | 'format' | 'header' | 'columnMapping'>;

/** COPY's column list for a job: the origin columns, then the kind's columns in the order its rows are written. */
export function copyColumnsFor(ctx: HeaderFields): string[] {
  const { kind } = ctx;
  const order = ctx.format === 'CSV' && !kind.fromRecord ? csvColumnOrder(ctx).filter((k) => k >= 0) : kind.columns.map((_, i) => i);
  return [...ROW_ORIGIN_COLUMNS, ...(kind.jobColumns ?? []), ...order.map((k) => kind.columns[k].dbColumn)];
}

/** The kind column of each of the file's columns, -1 for one the mapping ignores. */
function csvColumnOrder({ kind, header, columnMapping }: HeaderFields): number[] {
  if (!header) throw new Error('a CSV job needs its header');
  const check = checkHeader(kind, mapHeader(header, columnMapping));
  // The header was checked at upload; failing here means the job row is not what upload wrote.
  if (!check.ok) throw new Error(check.message);
  return check.kindIndexOfFileColumn;
}

interface RowWriter {
  /** The kind column index of each COPY column after the origin and job columns (copyColumnsFor's order). */
  order: readonly number[];
  /** CSV: a record's field count and the fields written (in `order`), or null when all are. */
  fileFields?: FileFields | null;
  /** Validates a record: its values in kind column order, or null when it could not even be read as a row. */
  check(record: SourceRecord): (string | null)[] | null;
  /** A CSV record that passed `check` with `row`, when its raw text says exactly those values in `order`; else null. */
  unchangedRaw(record: SourceRecord, row: readonly (string | null)[]): string | null;
}

const notRaw = () => null;

function csvRowWriter(ctx: RowContext, fail: ErrorSink): RowWriter {
  const { kind } = ctx;
  const kindOfField = csvColumnOrder(ctx);
  const order = kindOfField.filter((k) => k >= 0);
  // Columns a mapping ignores are left out of COPY, so a record's raw text no longer lines up with it.
  const fileFields = order.length === kindOfField.length ? null : { count: kindOfField.length, kept: kindOfField.flatMap((k, f) => (k >= 0 ? [f] : [])) };
  const width = kind.columns.length;
  const fieldCount = kindOfField.length;
  return {
    order,
    fileFields,
    check(record) {
      const fields = record.fields!;
      if (fields.length !== fieldCount) {
        fail(null, null, `expected ${fieldCount} fields as in the header, found ${fields.length}`);
        return null;
      }
      const values: unknown[] = new Array(width);
      for (let f = 0; f < fieldCount; f++) if (kindOfField[f] >= 0) values[kindOfField[f]] = fields[f];
      return kind.validate(values, fail);
    },
    unchangedRaw(record, row) {
      if (fileFields) return null;
      const fields = record.fields!;
      // Unchanged values (the same string, or '' read as NULL) mean the raw record says it all.
      let same = record.clean === true;
      for (let f = 0; same && f < fieldCount; f++) {
        const v = row[order[f]];
        same = v === fields[f] || (v === null && fields[f] === '');
      }
      return same ? record.raw : null;
    },
  };
}

/**
 * An NDJSON member's value, with objects and arrays that hold numbers as their own text from the
 * line: JSON.parse and JSON.stringify would round those to doubles (and turn 1e400 into null, 1.0
 * into 1). Without numbers, the parsed value says exactly what the text says, and finding the
 * text means reading the whole line again, a large share of NDJSON parsing (docs/performance.md),
 * so only values that hold a number pay for it. When the text cannot be found (nested past what
 * memberText reads), the parsed value it is.
 */
function ownText(line: string, key: string, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || !holdsNumber(value)) return value;
  const text = memberText(line, key);
  return text === null ? value : new JsonText(text);
}

/** An NDJSON record's object; anything else (an array, a number...) is the row's error. */
function jsonObjectOf(record: SourceRecord, fail: ErrorSink): Record<string, unknown> | null {
  const json = record.json;
  if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
  fail(null, null, 'the line is not a JSON object');
  return null;
}

/** Kinds that take records of any shape: the kind builds its values from the whole record. */
function anyShapeRowWriter({ kind, format, header }: RowContext, fail: ErrorSink): RowWriter {
  const order = kind.columns.map((_, i) => i);
  const names = header ?? [];
  return {
    order,
    unchangedRaw: notRaw,
    check(record) {
      let object: Record<string, unknown>;
      if (format === 'CSV') {
        const fields = record.fields!;
        if (fields.length !== names.length) {
          fail(null, null, `expected ${names.length} fields as in the header, found ${fields.length}`);
          return null;
        }
        object = {};
        for (let f = 0; f < names.length; f++) object[names[f]] = fields[f];
      } else {
        const json = jsonObjectOf(record, fail);
        if (!json) return null;
        object = json;
      }
      return kind.validate(kind.fromRecord!(object, fail, format === 'NDJSON' ? new JsonText(record.raw) : undefined), fail);
    },
  };
}

function ndjsonRowWriter({ kind, columnMapping }: RowContext, fail: ErrorSink): RowWriter {
  const indexOf = createKeyMatcher(kind);
  const mapped = columnMapping?.length ? columnNamer(columnMapping) : null;
  const width = kind.columns.length;
  const order = kind.columns.map((_, i) => i);
  return {
    order,
    unchangedRaw: notRaw,
    check(record) {
      const json = jsonObjectOf(record, fail);
      if (!json) return null;
      const values: unknown[] = new Array(width);
      const unknown: string[] = [];
      for (const key in json) {
        let name: string | null = key;
        if (mapped && (name = mapped(key)) === null) continue; // a key the mapping ignores
        const i = indexOf(name);
        if (i < 0) unknown.push(key);
        else values[i] = ownText(record.raw, key, json[key]);
      }
      // One error for all of a line's unknown fields: each error carries the line's text, so an
      // error per field let a small file of lines with thousands of keys take gigabytes.
      if (unknown.length > 0) fail(unknown[0], null, unknownFieldsMessage(unknown));
      return kind.validate(values, fail);
    },
  };
}

/** Names at most this many of a line's unknown fields in its error. */
const UNKNOWN_FIELDS_SHOWN = 10;

export function unknownFieldsMessage(keys: readonly string[]): string {
  if (keys.length === 1) return `unknown field "${keys[0]}"`;
  const shown = keys.slice(0, UNKNOWN_FIELDS_SHOWN).map((k) => `"${k.slice(0, 100)}"`).join(', ');
  const more = keys.length - UNKNOWN_FIELDS_SHOWN;
  return `unknown fields ${shown}${more > 0 ? ` and ${more} more` : ''}`;
}
