/**
 * Splitting a CSV record into fields where its bytes lie, without decoding it: the fast path of
 * imports/rowBytes.ts. Only plain RFC 4180 records are split here. Anything else (a quote inside
 * an unquoted field, text after a closing quote, a NUL byte, another field count) answers false,
 * and the record goes the string way (csvReader.ts splitRecord), which says what is wrong.
 *
 * A field's value is `data[start, end)` in the record's own buffer, or, for a quoted field with
 * doubled quotes, its unescaped copy in a buffer of this splitter's. Valid for one record: the
 * next split reuses the arrays and the copy buffer.
 */

const QUOTE = 0x22;

export class CsvFields {
  /** The delimiter's byte, and the highest byte the scan of a field must look at (above it, none of its tests can hold). */
  private readonly delimiter: number;
  private readonly scanAbove: number;
  count = 0;
  /** The buffer each field's value lies in. */
  readonly buf: Uint8Array[] = [];
  readonly start: number[] = [];
  readonly end: number[] = [];
  private unescaped = Buffer.allocUnsafe(64 * 1024);
  private unescapedAt = 0;

  /** `delimiter`: one ASCII character (csvDialect.ts); a comma unless given. */
  constructor(delimiter = ',') {
    this.delimiter = delimiter.charCodeAt(0);
    this.scanAbove = Math.max(this.delimiter, QUOTE);
  }

  /** Splits `data[from, to)` (one framed record) into `expected` fields; false when it is not a plain record of that many. */
  split(data: Uint8Array, from: number, to: number, expected: number): boolean {
    this.count = 0;
    this.unescapedAt = 0;
    const delimiter = this.delimiter;
    const scanAbove = this.scanAbove;
    let i = from;
    for (;;) {
      if (this.count === expected) return false;
      if (i < to && data[i] === QUOTE) {
        i = this.quoted(data, i + 1, to);
        if (i < 0) return false;
      } else {
        const fieldStart = i;
        for (; i < to; i++) {
          const c = data[i];
          if (c > scanAbove) continue; // most bytes: one comparison, as none of the tests below can hold
          if (c === delimiter) break;
          if (c === QUOTE || c === 0) return false;
        }
        this.push(data, fieldStart, i);
      }
      // `i` is at a delimiter or the record's end.
      if (i >= to) return this.count === expected;
      i++;
      if (i === to) { // a trailing delimiter: one more, empty field
        this.push(data, to, to);
        return this.count === expected;
      }
    }
  }

  /** Keeps only the fields at `kept` (ascending indexes of the fields just split), in that order. */
  keep(kept: readonly number[]): void {
    for (let k = 0; k < kept.length; k++) {
      const f = kept[k];
      this.buf[k] = this.buf[f];
      this.start[k] = this.start[f];
      this.end[k] = this.end[f];
    }
    this.count = kept.length;
  }

  /** A quoted field's value from just past its opening quote; returns the index after its closing quote, or -1. */
  private quoted(data: Uint8Array, from: number, to: number): number {
    let segment = from;
    let copied = false; // some of the value is in `unescaped`
    const copyStart = this.unescapedAt;
    for (let i = from; i < to; i++) {
      const c = data[i];
      if (c > QUOTE) continue; // most bytes: one comparison
      if (c === 0) return -1;
      if (c !== QUOTE) continue;
      if (i + 1 < to && data[i + 1] === QUOTE) { // "" is one quote: copy up to and including the first
        this.copy(data, segment, i + 1);
        copied = true;
        segment = i + 2;
        i++;
        continue;
      }
      // The closing quote: a delimiter or the record's end must follow.
      if (i + 1 < to && data[i + 1] !== this.delimiter) return -1;
      if (copied) {
        this.copy(data, segment, i);
        this.push(this.unescaped, copyStart, this.unescapedAt);
      } else this.push(data, from, i);
      return i + 1;
    }
    return -1; // unclosed (framing keeps quotes balanced, so this is a malformed record)
  }

  private copy(data: Uint8Array, from: number, to: number): void {
    const bytes = to - from;
    if (this.unescapedAt + bytes > this.unescaped.length) {
      // Fields of this record copied before keep pointing at the old buffer; the one being copied
      // continues at the same offset in the new one, which starts as a copy of the old.
      const bigger = Buffer.allocUnsafe(Math.max(this.unescaped.length * 2, this.unescapedAt + bytes));
      bigger.set(this.unescaped.subarray(0, this.unescapedAt));
      this.unescaped = bigger;
    }
    const out = this.unescaped;
    let at = this.unescapedAt;
    for (let k = from; k < to; k++) out[at++] = data[k];
    this.unescapedAt = at;
  }

  private push(buf: Uint8Array, start: number, end: number): void {
    const f = this.count++;
    this.buf[f] = buf;
    this.start[f] = start;
    this.end[f] = end;
  }
}
