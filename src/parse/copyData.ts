/**
 * The COPY data for one destination of a batch (the kind's table, or the staging twin its keyed
 * rows go through), built row by row in the parse thread. Each row is its origin (tenant, job,
 * line), the job's own columns (COLLECTION's name), then the kind's values in COPY column order.
 *
 * Two encodings of the same rows: binary (codecs/copyBinary.ts), which costs Postgres less CPU
 * and is used against a real Postgres; and CSV text, used on PGlite and for any table
 * with a column type the binary writer does not know. A CSV record whose values pass through
 * unchanged goes to COPY as its own raw text, which skips re-quoting every field.
 */
import { BinaryCopyWriter, type BinaryType } from '../codecs/copyBinary.js';
import { csvCell } from '../codecs/copyCsv.js';

/** How a job's rows are copied: binary needs the type of every COPY column, in order. */
export type CopyEncoding = { format: 'csv' } | { format: 'binary'; types: BinaryType[] };

export interface CopyDataBuilder {
  /**
   * One valid row: its line, its values in the kind's column order, and for a CSV record that can
   * be copied unchanged its raw text (only the CSV encoding reads it).
   */
  add(line: number, row: readonly (string | null)[], rawCsv: string | null): void;
  /**
   * One valid row whose values are its fields as written (parse/bytePath.ts), in COPY
   * column order. False, with nothing added, when this encoding does not take fields as bytes or
   * one of them is not a value of its column's type: the row then goes the string way.
   */
  addFields(line: number, fields: FieldBytes): boolean;
  /** The rows added since the last take, as one COPY's data; the bytes may be the builder's own, valid until the next add. */
  take(): Buffer;
  /** About how many bytes of COPY data the rows added since the last take make. */
  bytes(): number;
}

/**
 * Field values as bytes: field f is `buf[f][start[f], end[f])`, empty for SQL NULL (then buf and
 * raw are not read); `raw[f]` when it is JSON text (an NDJSON number or object) rather than a
 * string's characters.
 */
export interface FieldBytes {
  readonly buf: readonly Uint8Array[];
  readonly start: readonly number[];
  readonly end: readonly number[];
  readonly raw?: readonly boolean[];
}

export interface RowOrigin {
  tenantId: string;
  jobId: string;
  /** Values of the kind's jobColumns, in order. */
  jobValues: readonly (string | null)[];
}

/** `order[i]` is the kind column index of the i-th COPY column after the origin and job columns. */
export function createCopyDataBuilder(encoding: CopyEncoding, origin: RowOrigin, order: readonly number[]): CopyDataBuilder {
  return encoding.format === 'binary' ? new BinaryRows(encoding.types, origin, order) : new CsvRows(origin, order);
}

/** Rows this many at a time become bytes, so only a few hundred rows' strings are alive at once. */
const CSV_ROWS_PER_CHUNK = 500;

class CsvRows implements CopyDataBuilder {
  private readonly prefix: string;
  private readonly jobSuffix: string;
  private lines: string[] = [];
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  private lineChars = 0;

  constructor(origin: RowOrigin, private readonly order: readonly number[]) {
    this.prefix = `${origin.tenantId},${origin.jobId},`;
    this.jobSuffix = origin.jobValues.map((v) => `,${csvCell(v)}`).join('');
  }

  add(line: number, row: readonly (string | null)[], rawCsv: string | null): void {
    const text = this.prefix + line + this.jobSuffix + ',' + (rawCsv ?? joinCells(row, this.order));
    this.lines.push(text);
    this.lineChars += text.length + 1;
    if (this.lines.length >= CSV_ROWS_PER_CHUNK) this.flushLines();
  }

  addFields(): boolean {
    return false; // CSV COPY data goes the string way, where a record can be its own raw text
  }

  take(): Buffer {
    this.flushLines();
    const out = Buffer.concat(this.chunks, this.chunkBytes);
    this.chunks = [];
    this.chunkBytes = 0;
    return out;
  }

  bytes(): number {
    return this.chunkBytes + this.lineChars; // characters for the lines not yet encoded: close enough
  }

  private flushLines(): void {
    if (this.lines.length === 0) return;
    const chunk = Buffer.from(this.lines.join('\n') + '\n');
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
    this.lines = [];
    this.lineChars = 0;
  }
}

function joinCells(row: readonly (string | null)[], order: readonly number[]): string {
  let out = csvCell(row[order[0]]);
  for (let i = 1; i < order.length; i++) out += ',' + csvCell(row[order[i]]);
  return out;
}

class BinaryRows implements CopyDataBuilder {
  private readonly writer = new BinaryCopyWriter();
  /** tenant_id and job_id, the same on every row, encoded once. */
  private readonly ids: Buffer;
  private readonly jobFields: Buffer;
  private readonly valueTypes: readonly BinaryType[];
  private readonly fieldCount: number;

  constructor(types: readonly BinaryType[], origin: RowOrigin, private readonly order: readonly number[]) {
    const jobCount = origin.jobValues.length;
    if (types.length !== 3 + jobCount + order.length) throw new Error(`binary COPY needs ${3 + jobCount + order.length} column types, got ${types.length}`);
    if (types[2] !== 'int8') throw new Error(`the line column must be a bigint, not ${types[2]}`);
    this.ids = BinaryCopyWriter.encodeFields(types.slice(0, 2), [origin.tenantId, origin.jobId]);
    this.jobFields = BinaryCopyWriter.encodeFields(types.slice(3, 3 + jobCount), origin.jobValues);
    this.valueTypes = types.slice(3 + jobCount);
    this.fieldCount = types.length;
  }

  add(line: number, row: readonly (string | null)[]): void {
    const w = this.writer;
    w.beginRow(this.fieldCount);
    w.encoded(this.ids);
    w.int8(line);
    w.encoded(this.jobFields);
    for (let i = 0; i < this.order.length; i++) w.value(this.valueTypes[i], row[this.order[i]]);
  }

  addFields(line: number, fields: FieldBytes): boolean {
    const w = this.writer;
    const mark = w.mark();
    w.beginRow(this.fieldCount);
    w.encoded(this.ids);
    w.int8(line);
    w.encoded(this.jobFields);
    const types = this.valueTypes;
    const raw = fields.raw;
    for (let f = 0; f < types.length; f++) {
      const type = types[f];
      // JSON text where a string belongs (an NDJSON number for a text column) is validate's to turn into text.
      const stringWanted = raw !== undefined && raw[f] && fields.end[f] > fields.start[f] && (type === 'text' || type === 'timestamptz');
      if (stringWanted || !w.valueFromBytes(type, fields.buf[f], fields.start[f], fields.end[f])) {
        w.rollback(mark);
        return false;
      }
    }
    return true;
  }

  take(): Buffer {
    return this.writer.take();
  }

  bytes(): number {
    return this.writer.rowBytes;
  }
}
