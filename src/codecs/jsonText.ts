/**
 * JSON object texts read without building them, as UTF-8 bytes (a CSV field read straight from the
 * file, or a string's bytes). A CSV `metadata` cell is only checked and then copied as its own
 * text, and JSON.parse built the whole value for nothing, a large share of CSV parsing
 * (docs/performance.md). An NDJSON member's own text keeps its numbers exactly as written, where
 * JSON.parse and JSON.stringify would round them to doubles. As strict as JSON.parse (RFC 8259),
 * plus the range of numbers Postgres' jsonb can store.
 */

const OBJECT = 1;
const ARRAY = 2;
const MAX_DEPTH = 255;
/** The open containers, innermost last; the check runs once per row, so this is reused. */
const open = new Uint8Array(MAX_DEPTH + 1);

export enum JsonTextCheck {
  Object,
  /** Not JSON, not an object, or nested too deep: JSON.parse (and a depth count) give the reason. */
  NotAnObject,
  /** An object, but with a number Postgres' numeric refuses ("value overflows numeric format"). */
  NumberOutOfRange,
}

/** A JSON object's own text, where the reader has it (an NDJSON line's member), so that numbers are stored exactly as written. */
export class JsonText {
  constructor(readonly text: string) {}
}

/** Set by `number` when a number is valid JSON but beyond Postgres' numeric. */
let numberOutOfRange = false;
/** Set by `string` when a string (a key or a value) holds a \u escape. */
let unicodeEscape = false;

/** A JSON object text given as a string: its UTF-8 bytes are what the scanner reads. */
export function checkJsonObjectText(s: string, maxDepth: number): JsonTextCheck {
  return checkJsonObjectBytes(Buffer.from(s), maxDepth);
}

/**
 * The JSON object text that is all of `b[start, end)` (a CSV field where it lies in the file's
 * buffer, or a string's bytes); nothing outside it is read. UTF-8 bytes scan as the text does:
 * every byte of a multibyte character is >= 0x80, which JSON allows only inside strings, as it
 * allows the character.
 */
export function checkJsonObjectBytes(b: Uint8Array, maxDepth: number, start = 0, end = b.length): JsonTextCheck {
  const i = skipJsonSpace(b, start, end);
  if (i === end || b[i] !== 0x7b) return JsonTextCheck.NotAnObject;
  numberOutOfRange = false;
  unicodeEscape = false;
  const valueEnd = value(b, i, maxDepth, end);
  if (valueEnd < 0 || skipJsonSpace(b, valueEnd, end) !== end) return JsonTextCheck.NotAnObject;
  return numberOutOfRange ? JsonTextCheck.NumberOutOfRange : JsonTextCheck.Object;
}

/**
 * The text of the member `key` of the JSON object text `s` (the last one, as JSON.parse keeps),
 * or null when there is none. Keys written with escapes are decoded to compare them. `s` must be
 * valid JSON.
 */
export function memberText(s: string, key: string): string | null {
  const b = Buffer.from(s);
  const n = b.length;
  const keyBytes = Buffer.from(key);
  let i = skipJsonSpace(b, 0, n);
  if (b[i] !== 0x7b) return null;
  i = skipJsonSpace(b, i + 1, n);
  let found: string | null = null;
  while (b[i] === 0x22) {
    const keyEnd = string(b, i, n);
    if (keyEnd < 0) return null;
    let escaped = false;
    for (let k = i + 1; k < keyEnd - 1 && !escaped; k++) escaped = b[k] === 0x5c;
    const matches = escaped ? JSON.parse(b.toString('utf8', i, keyEnd)) === key
      : keyEnd - i - 2 === keyBytes.length && keyBytes.equals(b.subarray(i + 1, keyEnd - 1));
    const start = skipJsonSpace(b, skipJsonSpace(b, keyEnd, n) + 1, n);
    const end = value(b, start, MAX_DEPTH, n);
    if (end < 0) return null;
    if (matches) found = b.toString('utf8', start, end);
    i = skipJsonSpace(b, end, n);
    if (b[i] !== 0x2c) break;
    i = skipJsonSpace(b, i + 1, n);
  }
  return found;
}

/**
 * The end of the JSON value that starts at `i` of `b` (no space before it) and ends by `end`, or
 * -1 when it is not valid JSON there or nests deeper than `maxDepth`. Nothing at or past `end` is
 * read: a field or line read where it lies in a larger buffer is followed by other rows' bytes (or
 * stale ones), and a scan that ran on through them could cost a whole buffer per row. After it,
 * numberWasOutOfRange() tells whether the value holds a number Postgres' jsonb cannot store, and
 * hadUnicodeEscape() whether a string in it (key or value) holds a \u escape.
 */
export function jsonValueEnd(b: Uint8Array, i: number, maxDepth = MAX_DEPTH, end = b.length): number {
  numberOutOfRange = false;
  unicodeEscape = false;
  return value(b, i, maxDepth, end);
}

export const numberWasOutOfRange = (): boolean => numberOutOfRange;
/** After checkJsonObjectBytes or jsonValueEnd: whether the text scanned holds a \u escape (one scan finds it, not a second). */
export const hadUnicodeEscape = (): boolean => unicodeEscape;

/** Whether a parsed JSON value holds a number anywhere (past 64 levels, assumed so). */
export function holdsNumber(value: object, depth = 0): boolean {
  if (depth > 64) return true; // deeper than jsonb takes: let the text path find out
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'number' || (typeof v === 'object' && v !== null && holdsNumber(v, depth + 1))) return true;
  }
  return false;
}

/**
 * One JSON value from `i` (no space before it), read no further than `end`; returns the index past
 * it, or -1. Every read below is of an index under `end` (`byteAt` reads one byte so).
 */
function value(b: Uint8Array, i: number, maxDepth: number, end: number): number {
  if (maxDepth > MAX_DEPTH) throw new Error(`JSON texts are read at most ${MAX_DEPTH} levels deep`);
  let depth = 0;
  let expectValue = true;
  for (;;) {
    if (expectValue) {
      const c = byteAt(b, i, end);
      if (c === 0x7b || c === 0x5b) { // { or [
        if (++depth > maxDepth) return -1;
        open[depth] = c === 0x7b ? OBJECT : ARRAY;
        i = skipJsonSpace(b, i + 1, end);
        if (byteAt(b, i, end) === (c === 0x7b ? 0x7d : 0x5d)) { i++; depth--; expectValue = false; } // empty
        else if (c === 0x7b) { i = member(b, i, end); if (i < 0) return -1; }
        if (depth === 0) return i;
        continue;
      }
      if (c === 0x22) i = string(b, i, end);
      else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) i = number(b, i, end);
      else if (c === 0x74) i = word(b, i, TRUE, end);
      else if (c === 0x66) i = word(b, i, FALSE, end);
      else if (c === 0x6e) i = word(b, i, NULL, end);
      else return -1;
      if (i < 0 || depth === 0) return i;
      expectValue = false;
      continue;
    }
    // After a value inside a container: a comma, or the end of the container.
    i = skipJsonSpace(b, i, end);
    const c = byteAt(b, i, end);
    if (c === 0x2c) { // ,
      i = skipJsonSpace(b, i + 1, end);
      if (open[depth] === OBJECT) { i = member(b, i, end); if (i < 0) return -1; }
      expectValue = true;
    } else if ((c === 0x7d && open[depth] === OBJECT) || (c === 0x5d && open[depth] === ARRAY)) {
      i++;
      if (--depth === 0) return i;
    } else return -1;
  }
}

/** The byte at `i`, or -1 at or past `end`. */
const byteAt = (b: Uint8Array, i: number, end: number): number => (i < end ? b[i] : -1);

/** A member's key and colon, from its opening quote; returns where its value starts, or -1. */
function member(b: Uint8Array, i: number, end: number): number {
  if (byteAt(b, i, end) !== 0x22) return -1;
  i = string(b, i, end);
  if (i < 0) return -1;
  i = skipJsonSpace(b, i, end);
  if (byteAt(b, i, end) !== 0x3a) return -1;
  return skipJsonSpace(b, i + 1, end);
}

/** Past the JSON white space at `i`, stopping at `end`. */
export function skipJsonSpace(b: Uint8Array, i: number, end: number): number {
  for (; i < end; i++) {
    const c = b[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
  }
  return i;
}

/** A string from its opening quote; returns the index past its closing quote, or -1. */
function string(b: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const c = b[j];
    if (c > 0x5c) continue; // most text (letters): one comparison, as none of the tests below can hold
    if (c === 0x22) return j + 1;
    if (c < 0x20) return -1; // control characters must be escaped
    if (c === 0x5c) {
      const e = byteAt(b, j + 1, end);
      if (e === 0x75) { // \uXXXX
        if (j + 5 >= end || !isHex(b[j + 2]) || !isHex(b[j + 3]) || !isHex(b[j + 4]) || !isHex(b[j + 5])) return -1;
        unicodeEscape = true;
        j += 5;
      } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) j++;
      else return -1;
    }
  }
  return -1;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** Postgres' numeric: at most this many digits before the decimal point, and after it (NUMERIC_WEIGHT_MAX, NUMERIC_DSCALE_MAX). */
const NUMERIC_MAX_INTEGER_DIGITS = 131072;
const NUMERIC_MAX_SCALE = 16383;
/** numeric_in's own limit on an exponent (INT_MAX / 2), whatever the digits. */
const NUMERIC_MAX_EXPONENT = 1073741823;

/**
 * -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? from `i`; returns the index past it, or -1. Sets
 * numberOutOfRange when Postgres could not store it: too many digits after the decimal point once
 * the exponent is applied (even for zero: 0e-20000), or a nonzero value with too many before it.
 */
function number(b: Uint8Array, i: number, end: number): number {
  if (byteAt(b, i, end) === 0x2d) i++;
  const intStart = i;
  if (byteAt(b, i, end) === 0x30) i++;
  else if (isDigit(byteAt(b, i, end))) while (isDigit(byteAt(b, i, end))) i++;
  else return -1;
  const intDigits = i - intStart;
  let fracDigits = 0;
  if (byteAt(b, i, end) === 0x2e) {
    if (!isDigit(byteAt(b, ++i, end))) return -1;
    const fracStart = i;
    while (isDigit(byteAt(b, i, end))) i++;
    fracDigits = i - fracStart;
  }
  let exponent = 0;
  const e = byteAt(b, i, end);
  if (e === 0x65 || e === 0x45) {
    const sign = byteAt(b, ++i, end);
    if (sign === 0x2b || sign === 0x2d) i++;
    if (!isDigit(byteAt(b, i, end))) return -1;
    while (byteAt(b, i, end) === 0x30) i++; // leading zeros say nothing (strtol reads past them too)
    const expStart = i;
    while (isDigit(byteAt(b, i, end))) i++;
    // Beyond 10 digits the exponent is out of range whatever the digits; parse no more than that.
    exponent = i - expStart > 10 ? 1e11 : digitsValue(b, expStart, i);
    if (sign === 0x2d) exponent = -exponent;
    // Postgres refuses such an exponent before it looks at the digits, zero included.
    if (exponent >= NUMERIC_MAX_EXPONENT || exponent <= -NUMERIC_MAX_EXPONENT) numberOutOfRange = true;
  }
  if (exponent !== 0 || intDigits > NUMERIC_MAX_INTEGER_DIGITS || fracDigits > NUMERIC_MAX_SCALE) {
    if (Math.max(0, fracDigits - exponent) > NUMERIC_MAX_SCALE) numberOutOfRange = true;
    else {
      // The power of ten of the first nonzero digit, with the exponent applied.
      const first = firstNonZeroDigit(b, intStart, intDigits, fracDigits);
      if (first !== null && first + exponent >= NUMERIC_MAX_INTEGER_DIGITS) numberOutOfRange = true;
    }
  }
  return i;
}

/** The power of ten of a number's first nonzero digit (digits from `at`), or null for zero. */
function firstNonZeroDigit(b: Uint8Array, at: number, intDigits: number, fracDigits: number): number | null {
  for (let k = 0; k < intDigits; k++) if (b[at + k] !== 0x30) return intDigits - 1 - k;
  for (let k = 0; k < fracDigits; k++) if (b[at + intDigits + 1 + k] !== 0x30) return -1 - k;
  return null;
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

/** The literal `w` at `i`: the index past it, or -1. */
function word(b: Uint8Array, i: number, w: Uint8Array, end: number): number {
  if (i + w.length > end) return -1;
  for (let k = 0; k < w.length; k++) if (b[i + k] !== w[k]) return -1;
  return i + w.length;
}

/** The value of the digits from `from` to `to` (at most 10 of them). */
function digitsValue(b: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let k = from; k < to; k++) n = n * 10 + (b[k] - 0x30);
  return n;
}
