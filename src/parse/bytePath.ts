/**
 * The byte path for rows: a record is read where its bytes lie (formats/csvFields.ts for a CSV
 * record, formats/ndjsonFields.ts for an NDJSON line), its kind checks it on those bytes
 * (ImportKind.passesAsWritten), and its fields are copied into the binary COPY data as they are.
 * No string is built for a row that passes: the string way (decode the record, split or
 * JSON.parse it into strings, validate, encode the strings again) spends most of its time
 * building and re-encoding strings (docs/performance.md).
 *
 * The path only takes rows it is sure of; every other row (a failing one, one whose values
 * validate would change, one it cannot read, one not known to be UTF-8) is declined and goes the
 * string way, which decides it and says what is wrong. So rows and errors are the same either
 * way; test/bytePath.test.ts holds the two ways to that.
 */
import type { CopyDataBuilder, FieldBytes } from './copyData.js';
import { CsvFields } from './csvFields.js';
import { NdjsonFields } from './ndjsonFields.js';
import type { ImportFormat, RecordBytes } from './types.js';
import { readTimestampBytes, TimestampCheck } from '../codecs/timestamps.js';
import type { ImportKind, RowBytes } from '../kinds/types.js';
import { isNonNegativeIntBytes, isStorableJsonObjectBytes, MAX_KEY_BYTES } from '../kinds/values.js';

export interface FileFields { count: number; kept: readonly number[] }

export enum BytePathResult { Declined, Plain, Keyed }

export interface BytePathOptions {
  kind: ImportKind;
  format: ImportFormat;
  /** The kind column of each COPY column after the origin and job columns (for CSV, of each field written). */
  order: readonly number[];
  /** CSV: how many fields a record has and which are written, in `order` (a column mapping ignores the others); null: all. */
  fileFields?: FileFields | null;
  /** CSV: the delimiter; a comma when absent. */
  delimiter?: string;
  /** Kind column indexes of the dedup key and of a unique index's column (too long a key fails the row), or -1. */
  keyColumn: number;
  uniqueColumn: number;
}

/** The byte path for a job's rows, or null when its kind has no check on bytes. */
export function createBytePath(opts: BytePathOptions): BytePath | null {
  const passes = opts.kind.passesAsWritten?.bind(opts.kind);
  if (!passes || opts.kind.fromRecord || opts.kind.upsert) return null;
  return opts.format === 'CSV' ? new CsvBytePath(passes, opts) : new NdjsonBytePath(passes, opts);
}

/** NDJSON fields also say which raw values are JSON objects checkJsonObject stores as they are, found as they were read. */
type Fields = FieldBytes & { raw?: readonly boolean[]; storableObject?: readonly boolean[] };

export abstract class BytePath<F extends Fields = Fields> implements RowBytes {
  /** The COPY field of each kind column, or -1 when the record cannot have it. */
  private readonly fieldOf: Int32Array;
  private readonly keyField: number;
  private readonly uniqueField: number;

  protected constructor(private readonly passes: (row: RowBytes) => boolean, protected readonly fields: F, opts: BytePathOptions) {
    this.fieldOf = new Int32Array(opts.kind.columns.length).fill(-1);
    opts.order.forEach((column, field) => { this.fieldOf[column] = field; });
    this.keyField = opts.keyColumn >= 0 ? this.fieldOf[opts.keyColumn] : -1;
    this.uniqueField = opts.uniqueColumn >= 0 ? this.fieldOf[opts.uniqueColumn] : -1;
  }

  /** Reads the record into `fields` (in COPY column order); false when this path cannot read it. */
  protected abstract read(record: RecordBytes): boolean;

  /** Adds the record's row to `plain` or, when it carries a dedup key, to `keyed`; or declines it. */
  add(record: RecordBytes, plain: CopyDataBuilder, keyed: CopyDataBuilder): BytePathResult {
    if (!record.utf8 || !this.read(record)) return BytePathResult.Declined;
    const { start, end } = this.fields;
    if (this.uniqueField >= 0 && end[this.uniqueField] - start[this.uniqueField] > MAX_KEY_BYTES) return BytePathResult.Declined;
    if (!this.passes(this)) return BytePathResult.Declined;
    const isKeyed = this.keyField >= 0 && end[this.keyField] > start[this.keyField];
    if (!(isKeyed ? keyed : plain).addFields(record.line, this.fields)) return BytePathResult.Declined;
    return isKeyed ? BytePathResult.Keyed : BytePathResult.Plain;
  }

  // RowBytes, over the record just read.

  absent(column: number): boolean {
    const f = this.fieldOf[column];
    return f < 0 || this.fields.end[f] === this.fields.start[f];
  }

  oneOf(column: number, words: readonly Uint8Array[]): number {
    const f = this.text(column);
    if (f < 0) return -1;
    const { buf, start, end } = this.fields;
    const b = buf[f];
    const s = start[f];
    const length = end[f] - s;
    for (let w = 0; w < words.length; w++) {
      const word = words[w];
      if (word.length !== length) continue;
      let k = 0;
      while (k < length && b[s + k] === word[k]) k++;
      if (k === length) return w;
    }
    return -1;
  }

  timestamp(column: number): boolean {
    const f = this.text(column);
    return f >= 0 && readTimestampBytes(this.fields.buf[f], this.fields.start[f], this.fields.end[f]) === TimestampCheck.Ok;
  }

  nonNegativeInt(column: number): boolean {
    const f = this.fieldOf[column];
    return f >= 0 && isNonNegativeIntBytes(this.fields.buf[f], this.fields.start[f], this.fields.end[f]);
  }

  jsonObject(column: number): boolean {
    const f = this.fieldOf[column];
    if (f < 0 || this.fields.end[f] === this.fields.start[f]) return false;
    if (this.fields.raw?.[f]) return this.fields.storableObject![f];
    return isStorableJsonObjectBytes(this.fields.buf[f], this.fields.start[f], this.fields.end[f]);
  }

  /** The field of a column given as a string (not a JSON number or object), or -1. */
  private text(column: number): number {
    const f = this.fieldOf[column];
    return f >= 0 && this.fields.raw?.[f] !== true ? f : -1;
  }
}

class CsvBytePath extends BytePath<CsvFields> {
  private readonly fieldCount: number;
  private readonly kept: readonly number[] | null;

  constructor(passes: (row: RowBytes) => boolean, opts: BytePathOptions) {
    super(passes, new CsvFields(opts.delimiter), opts);
    this.kept = opts.fileFields?.kept ?? null;
    this.fieldCount = opts.fileFields?.count ?? opts.order.length;
  }

  protected read(record: RecordBytes): boolean {
    if (!this.fields.split(record.data, record.start, record.end, this.fieldCount)) return false;
    if (this.kept) this.fields.keep(this.kept);
    return true;
  }
}

class NdjsonBytePath extends BytePath<NdjsonFields> {
  constructor(passes: (row: RowBytes) => boolean, opts: BytePathOptions) {
    // NDJSON rows are copied in kind column order: field f is kind column f.
    super(passes, new NdjsonFields(opts.kind.columns.map((c) => c.name)), opts);
  }

  protected read(record: RecordBytes): boolean {
    return this.fields.read(record.data, record.start, record.end);
  }
}
