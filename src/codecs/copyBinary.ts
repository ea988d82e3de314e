/**
 * Writing rows in the binary format that `COPY ... WITH (FORMAT binary)` reads. Postgres spends
 * less CPU on a binary COPY than on the same rows as CSV text (no CSV splitting, no
 * text-to-uuid/int/timestamp conversion), and the backend is what bounds an import
 * (docs/performance.md). The values arrive as the text a kind's `validate`
 * returns, already checked, and are encoded to exactly what Postgres would store from that text.
 *
 * Format (Postgres docs, "COPY", Binary Format): a header, then per row an int16 field count and
 * per field an int32 length (-1 for NULL) and the value's bytes, then an int16 -1 trailer.
 */
import { isLastTimestamp, lastTimestamp, readTimestamp, readTimestampBytes, TimestampCheck } from './timestamps.js';

/** The column types the writer can encode (binaryTypes.ts finds a table's); a table with any other type is copied as CSV. */
export type BinaryType = 'text' | 'int4' | 'int8' | 'bool' | 'uuid' | 'timestamptz' | 'jsonb';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_BYTES = SIGNATURE.length + 8; // flags and header-extension length, both 0
/** Room for a default batch of events rows (BATCH_SIZE); a buffer grown past this by huge rows is not kept. */
const MAX_KEPT_BYTES = 8 << 20;

/** A 1 MiB buffer that starts with the COPY header. */
function newBuffer(): Buffer {
  const buf = Buffer.allocUnsafeSlow(1 << 20);
  SIGNATURE.copy(buf, 0);
  buf.fill(0, SIGNATURE.length, HEADER_BYTES);
  return buf;
}

/**
 * Rows appended into one growing buffer; `take` hands them over as one COPY's data (header, rows,
 * trailer) and starts again. A value Postgres would refuse as text (which `validate` lets through
 * only by mistake) throws here rather than being stored as something else.
 */
export class BinaryCopyWriter {
  private buf = newBuffer();
  private at = HEADER_BYTES;

  /** Bytes of rows written since the last take. */
  get rowBytes(): number {
    return this.at - HEADER_BYTES;
  }

  /**
   * The rows written since the last take, as a COPY stream of its own. The bytes are the writer's
   * own: read them before the next row is written.
   */
  take(): Buffer {
    this.room(2);
    put16(this.buf, this.at, -1);
    const out = this.buf.subarray(0, this.at + 2);
    this.at = HEADER_BYTES;
    // A batch of huge rows grew the buffer: let it go after this batch instead of holding it for
    // the rest of the job (`out` keeps it alive until the caller is done with it).
    if (this.buf.length > MAX_KEPT_BYTES) this.buf = newBuffer();
    return out;
  }

  beginRow(fields: number): void {
    this.room(2);
    put16(this.buf, this.at, fields);
    this.at += 2;
  }

  /** One field, encoded as `type` from its text (null is SQL NULL). */
  value(type: BinaryType, value: string | null): void {
    if (value === null) { this.room(4); put32(this.buf, this.at, -1); this.at += 4; return; }
    switch (type) {
      case 'text': return this.utf8(value, false);
      case 'jsonb': return this.utf8(value, true);
      case 'int4': return this.int4(value);
      case 'int8': return this.int8(Number(value));
      case 'bool': return this.bool(value);
      case 'uuid': return this.uuid(value);
      case 'timestamptz': return this.timestamptz(value);
    }
  }

  /**
   * One field from its text as UTF-8 bytes, `b[start, end)` (a CSV field where it lies in the
   * file's buffer); empty is SQL NULL. False, with nothing written, when the writer does not read
   * `type` from bytes or the text is not a value of it: the caller then takes the string way.
   */
  valueFromBytes(type: BinaryType, b: Uint8Array, start: number, end: number): boolean {
    if (start === end) { this.room(4); put32(this.buf, this.at, -1); this.at += 4; return true; }
    switch (type) {
      case 'text': this.bytes(b, start, end, false); return true;
      case 'jsonb': this.bytes(b, start, end, true); return true;
      case 'int4': return this.int4FromBytes(b, start, end);
      case 'timestamptz':
        // Checked by the kind just before (passesAsWritten): read once.
        if (!isLastTimestamp(b, start, end) && readTimestampBytes(b, start, end) !== TimestampCheck.Ok) return false;
        this.lastTimestamp();
        return true;
      default: return false;
    }
  }

  /** Where the next row starts: `rollback` to it drops the rows written since. */
  mark(): number {
    return this.at;
  }

  rollback(mark: number): void {
    this.at = mark;
  }

  /** An int8 field from a safe integer (line numbers). */
  int8(n: number): void {
    if (!Number.isSafeInteger(n)) throw new Error(`not an integer for a bigint column: ${n}`);
    this.room(12);
    put32(this.buf, this.at, 8);
    this.writeInt64(Math.floor(n / 2 ** 32), n - Math.floor(n / 2 ** 32) * 2 ** 32);
  }

  /** Fields encoded once by `encodeFields` (values that are the same on every row: the job's). */
  encoded(fields: Buffer): void {
    const n = fields.length;
    this.room(n);
    const buf = this.buf;
    const at = this.at;
    // A few dozen bytes (tenant and job ids): a loop costs less than a call into native code.
    for (let i = 0; i < n; i++) buf[at + i] = fields[i];
    this.at = at + n;
  }

  /** The bytes of some fields, for `encoded`. */
  static encodeFields(types: readonly BinaryType[], values: readonly (string | null)[]): Buffer {
    const writer = new BinaryCopyWriter();
    types.forEach((type, i) => writer.value(type, values[i]));
    return Buffer.from(writer.buf.subarray(HEADER_BYTES, writer.at));
  }

  private utf8(value: string, jsonb: boolean): void {
    const prefix = jsonb ? 1 : 0;
    this.room(4 + prefix + value.length * 3);
    const buf = this.buf;
    const start = this.at + 4 + prefix;
    if (jsonb) buf[start - 1] = 1; // jsonb's binary format: version 1, then the JSON text
    const bytes = value.length <= SHORT_TEXT ? writeShortText(buf, value, start) : buf.write(value, start);
    put32(buf, this.at, bytes + prefix);
    this.at = start + bytes;
  }

  private bytes(b: Uint8Array, start: number, end: number, jsonb: boolean): void {
    const prefix = jsonb ? 1 : 0;
    const length = end - start;
    this.room(4 + prefix + length);
    const buf = this.buf;
    put32(buf, this.at, length + prefix);
    let at = this.at + 4;
    if (jsonb) buf[at++] = 1; // jsonb's binary format: version 1, then the JSON text
    if (length > LOOP_COPY_BYTES) { buf.set(b.subarray(start, end), at); at += length; }
    else for (let i = start; i < end; i++) buf[at++] = b[i];
    this.at = at;
  }

  /** An int4 from ASCII digits, with an optional minus sign. */
  private int4FromBytes(b: Uint8Array, start: number, end: number): boolean {
    const negative = b[start] === 0x2d;
    const from = negative ? start + 1 : start;
    if (from === end || end - from > 10) return false;
    let n = 0;
    for (let i = from; i < end; i++) {
      const c = b[i];
      if (c < 0x30 || c > 0x39) return false;
      n = n * 10 + (c - 0x30);
    }
    if (negative) n = -n;
    if (n > 2_147_483_647 || n < -2_147_483_648) return false;
    this.room(8);
    put32(this.buf, this.at, 4);
    put32(this.buf, this.at + 4, n);
    this.at += 8;
    return true;
  }

  private int4(value: string): void {
    const n = Number(value);
    if (!Number.isInteger(n) || n > 2_147_483_647 || n < -2_147_483_648 || value.trim() === '') {
      throw new Error(`not an integer for an integer column: ${value}`);
    }
    this.room(8);
    put32(this.buf, this.at, 4);
    put32(this.buf, this.at + 4, n);
    this.at += 8;
  }

  private bool(value: string): void {
    const b = BOOLEANS[value];
    if (b === undefined) throw new Error(`not a boolean: ${value}`);
    this.room(5);
    put32(this.buf, this.at, 1);
    this.buf[this.at + 4] = b;
    this.at += 5;
  }

  private uuid(value: string): void {
    const hex = value.replace(/-/g, '');
    const bytes = Buffer.from(hex, 'hex');
    if (hex.length !== 32 || bytes.length !== 16) throw new Error(`not a uuid: ${value}`);
    this.room(20);
    put32(this.buf, this.at, 16);
    bytes.copy(this.buf, this.at + 4);
    this.at += 20;
  }

  private timestamptz(value: string): void {
    if (readTimestamp(value) !== TimestampCheck.Ok) throw new Error(`not a timestamp: ${value}`);
    this.lastTimestamp();
  }

  /** The timestamp read last (lastTimestamp). */
  private lastTimestamp(): void {
    const { seconds, micros } = lastTimestamp;
    // seconds * 1e6 + micros overflows a double's exact range for far dates: build the int64 from
    // seconds * 15625 (exact) times 64, split into 32-bit halves.
    const a = seconds * 15625;
    const aHigh = Math.floor(a / 2 ** 26);
    let low = (a - aHigh * 2 ** 26) * 64 + micros;
    let high = aHigh;
    if (low >= 2 ** 32) { low -= 2 ** 32; high += 1; }
    this.room(12);
    put32(this.buf, this.at, 8);
    this.writeInt64(high, low);
  }

  /** Writes the int64 high * 2^32 + low (high signed, low in [0, 2^32)) after the length already at `at`. */
  private writeInt64(high: number, low: number): void {
    put32(this.buf, this.at + 4, high);
    put32(this.buf, this.at + 8, low);
    this.at += 12;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + bytes));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}

const BOOLEANS: Record<string, number> = { true: 1, false: 0, t: 1, f: 0 };

/**
 * Up to this length, a field's bytes are copied by a JS loop: a view of them for `set` (subarray)
 * costs more. Beyond a few hundred bytes the native copy wins; this bound covers typical JSON
 * metadata fields, which a shorter one sent the slow way (docs/performance.md).
 */
const LOOP_COPY_BYTES = 256;

/** Up to this length, a JS loop writes ASCII text faster than a call into Buffer's native UTF-8 writer, so short strings take the loop (docs/performance.md). */
const SHORT_TEXT = 64;

/** Writes `value` as UTF-8 at `at`; returns the bytes written. */
function writeShortText(buf: Buffer, value: string, at: number): number {
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) return buf.write(value, at); // not ASCII: start again, natively
    buf[at + i] = c;
  }
  return n;
}

/**
 * Big-endian 32-bit and 16-bit stores (two's complement for negatives). Buffer's writeInt32BE
 * checks its arguments on every call; these run a few dozen times per row, on values the writer
 * already knows to fit.
 */
function put32(buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
}

function put16(buf: Buffer, at: number, value: number): void {
  buf[at] = value >>> 8;
  buf[at + 1] = value;
}
