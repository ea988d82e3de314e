/**
 * Reading an NDJSON line's object where its bytes lie, without JSON.parse: the fast path of
 * parse/bytePath.ts. Only a flat object of known keys is read here: each key exactly a column's
 * name and given once, each value a string without escapes, a number, null, or an object or
 * array (kept as its JSON text). Anything else (an unknown or repeated key, an escape, true or
 * false, broken JSON) answers false, and the line goes the JSON.parse way, which says what is wrong.
 *
 * The line is read where it lies in the reader's chunk, `data[from, to)`: no view of it is made
 * (a new Uint8Array per line, and a store of it into each field's `buf` that the garbage
 * collector's write barrier had to note). Field f (a kind column) is `buf[f][start[f], end[f])`,
 * empty when the key is absent or null; `raw[f]` says it is JSON text (a number, object or array)
 * rather than a string's characters. Valid for one line: the next read reuses the arrays, and
 * keys are marked seen by a line number, so no array is cleared per line (docs/performance.md).
 */
import { jsonValueEnd, skipJsonSpace } from '../codecs/jsonText.js';
import { MAX_JSON_DEPTH, scannedJsonIsStorable } from '../kinds/values.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class NdjsonFields {
  readonly buf: Uint8Array[];
  readonly start: number[];
  readonly end: number[];
  readonly raw: boolean[];
  /** For a raw field: it is a JSON object that checkJsonObject stores as it is (values.ts isStorableJsonObjectBytes). */
  readonly storableObject: boolean[];
  private readonly names: Buffer[];
  /** The column each member matched on the line before: files repeat one key order. */
  private readonly lastOrder: Int32Array;
  /** The number of the read (`linesRead`) in which each column's key was last seen: a repeated key is the same number twice. */
  private readonly seen: Float64Array;
  private linesRead = 0;

  constructor(columnNames: readonly string[]) {
    const n = columnNames.length;
    this.names = columnNames.map((name) => Buffer.from(name));
    this.buf = new Array(n).fill(Buffer.alloc(0));
    this.start = new Array(n).fill(0);
    this.end = new Array(n).fill(0);
    this.raw = new Array(n).fill(false);
    this.storableObject = new Array(n).fill(false);
    this.lastOrder = new Int32Array(n).fill(-1);
    this.seen = new Float64Array(n);
  }

  /** Reads the object that is all of `line[from, to)` (one line); false when it is not one this reads. */
  read(line: Uint8Array, from: number, to: number): boolean {
    const { buf, start, end, raw } = this;
    // An absent field is start = end; its buf and raw are not read then.
    for (let f = 0; f < start.length; f++) { start[f] = 0; end[f] = 0; }
    // Every byte is read at an index below `to`: past it lies the next line, or stale bytes of the reused chunk.
    let i = skipJsonSpace(line, from, to);
    if (i >= to || line[i] !== 0x7b) return false;
    i = skipJsonSpace(line, i + 1, to);
    if (i < to && line[i] === 0x7d) return skipJsonSpace(line, i + 1, to) === to;
    const seen = this.seen;
    const lineNumber = ++this.linesRead;
    for (let member = 0; ; member++) {
      if (i >= to || line[i] !== QUOTE) return false;
      const keyStart = i + 1;
      // Files repeat one key order: the name the key at this place had on the line before, found
      // byte for byte and closed by a quote, is the key (a name holds no escape), unscanned:
      // comparing the expected name is cheaper than scanning the key and looking it up (docs/performance.md).
      let f = member < this.lastOrder.length ? this.lastOrder[member] : -1;
      let keyEnd = f >= 0 ? keyStart + this.names[f].length : -1;
      if (f < 0 || keyEnd >= to || line[keyEnd] !== QUOTE || !this.is(f, line, keyStart, keyEnd)) {
        keyEnd = stringEnd(line, keyStart, to);
        if (keyEnd < 0) return false;
        f = this.column(line, keyStart, keyEnd, member);
      }
      if (f < 0 || seen[f] === lineNumber) return false;
      seen[f] = lineNumber;
      i = skipJsonSpace(line, keyEnd + 1, to);
      if (i >= to || line[i] !== 0x3a) return false;
      i = skipJsonSpace(line, i + 1, to);
      if (i >= to) return false;
      const c = line[i];
      if (buf[f] !== line) buf[f] = line;
      raw[f] = c !== QUOTE;
      if (c === QUOTE) {
        const valueEnd = stringEnd(line, i + 1, to);
        if (valueEnd < 0) return false;
        start[f] = i + 1;
        end[f] = valueEnd;
        i = valueEnd + 1;
      } else if (c === 0x6e) { // null: absent
        if (i + 4 > to || line[i + 1] !== 0x75 || line[i + 2] !== 0x6c || line[i + 3] !== 0x6c) return false;
        start[f] = end[f] = i;
        i += 4;
      } else if (c === 0x7b || c === 0x5b || c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        // Deeper than jsonb takes is JSON.parse's way to report, as is broken JSON.
        const valueEnd = jsonValueEnd(line, i, MAX_JSON_DEPTH, to);
        if (valueEnd < 0) return false;
        // Decided from this one scan, not by isStorableJsonObjectBytes scanning it again.
        this.storableObject[f] = c === 0x7b && scannedJsonIsStorable();
        start[f] = i;
        end[f] = valueEnd;
        i = valueEnd;
      } else return false; // true, false, or not JSON
      i = skipJsonSpace(line, i, to);
      if (i >= to) return false;
      if (line[i] === 0x2c) { i = skipJsonSpace(line, i + 1, to); continue; }
      if (line[i] !== 0x7d) return false;
      return skipJsonSpace(line, i + 1, to) === to;
    }
  }

  /** The column named exactly by the key's bytes, or -1. */
  private column(line: Uint8Array, from: number, to: number, member: number): number {
    const guess = member < this.lastOrder.length ? this.lastOrder[member] : -1;
    if (guess >= 0 && this.is(guess, line, from, to)) return guess;
    for (let f = 0; f < this.names.length; f++) {
      if (f !== guess && this.is(f, line, from, to)) {
        if (member < this.lastOrder.length) this.lastOrder[member] = f;
        return f;
      }
    }
    return -1;
  }

  private is(f: number, line: Uint8Array, from: number, to: number): boolean {
    const name = this.names[f];
    if (name.length !== to - from) return false;
    for (let k = 0; k < name.length; k++) if (line[from + k] !== name[k]) return false;
    return true;
  }
}

/** The closing quote of a string whose characters start at `i`, or -1 when it has an escape or a control character (or no end). */
function stringEnd(line: Uint8Array, i: number, n: number): number {
  for (; i < n; i++) {
    const c = line[i];
    if (c > BACKSLASH) continue; // most text (letters): one comparison instead of three
    if (c === QUOTE) return i;
    if (c === BACKSLASH || c < 0x20) return -1;
  }
  return -1;
}

