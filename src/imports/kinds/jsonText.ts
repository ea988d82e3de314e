/**
 * JSON object texts read without building them. A CSV `metadata` cell is only checked and then
 * copied as its own text, and JSON.parse built the whole value for nothing (~14% of CSV parsing
 * here). An NDJSON member's own text keeps its numbers exactly as written, where JSON.parse and
 * JSON.stringify would round them to doubles. As strict as JSON.parse (RFC 8259), plus the range
 * of numbers Postgres' jsonb can store.
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

export function checkJsonObjectText(s: string, maxDepth: number): JsonTextCheck {
  const i = skipSpace(s, 0);
  if (s.charCodeAt(i) !== 0x7b) return JsonTextCheck.NotAnObject;
  numberOutOfRange = false;
  const end = value(s, i, maxDepth);
  if (end < 0 || skipSpace(s, end) !== s.length) return JsonTextCheck.NotAnObject;
  return numberOutOfRange ? JsonTextCheck.NumberOutOfRange : JsonTextCheck.Object;
}

/**
 * The text of the member `key` of the JSON object text `s` (the last one, as JSON.parse keeps),
 * or null when there is none. Keys written with escapes are decoded to compare them. `s` must be
 * valid JSON.
 */
export function memberText(s: string, key: string): string | null {
  let i = skipSpace(s, 0);
  if (s.charCodeAt(i) !== 0x7b) return null;
  i = skipSpace(s, i + 1);
  let found: string | null = null;
  while (s.charCodeAt(i) === 0x22) {
    const keyEnd = string(s, i);
    if (keyEnd < 0) return null;
    let escaped = false;
    for (let k = i + 1; k < keyEnd - 1 && !escaped; k++) escaped = s.charCodeAt(k) === 0x5c;
    const matches = escaped ? JSON.parse(s.slice(i, keyEnd)) === key : keyEnd - i - 2 === key.length && s.startsWith(key, i + 1);
    const start = skipSpace(s, skipSpace(s, keyEnd) + 1);
    const end = value(s, start, MAX_DEPTH);
    if (end < 0) return null;
    if (matches) found = s.slice(start, end);
    i = skipSpace(s, end);
    if (s.charCodeAt(i) !== 0x2c) break;
    i = skipSpace(s, i + 1);
  }
  return found;
}

/** Whether a parsed JSON value holds a number anywhere (past 64 levels, assumed so). */
export function holdsNumber(value: object, depth = 0): boolean {
  if (depth > 64) return true; // deeper than jsonb takes: let the text path find out
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'number' || (typeof v === 'object' && v !== null && holdsNumber(v, depth + 1))) return true;
  }
  return false;
}

/** One JSON value from `i` (no space before it); returns the index past it, or -1. */
function value(s: string, i: number, maxDepth: number): number {
  if (maxDepth > MAX_DEPTH) throw new Error(`JSON texts are read at most ${MAX_DEPTH} levels deep`);
  let depth = 0;
  let expectValue = true;
  for (;;) {
    if (expectValue) {
      const c = s.charCodeAt(i);
      if (c === 0x7b || c === 0x5b) { // { or [
        if (++depth > maxDepth) return -1;
        open[depth] = c === 0x7b ? OBJECT : ARRAY;
        i = skipSpace(s, i + 1);
        if (s.charCodeAt(i) === (c === 0x7b ? 0x7d : 0x5d)) { i++; depth--; expectValue = false; } // empty
        else if (c === 0x7b) { i = member(s, i); if (i < 0) return -1; }
        if (depth === 0) return i;
        continue;
      }
      if (c === 0x22) i = string(s, i);
      else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) i = number(s, i);
      else if (c === 0x74) i = s.startsWith('true', i) ? i + 4 : -1;
      else if (c === 0x66) i = s.startsWith('false', i) ? i + 5 : -1;
      else if (c === 0x6e) i = s.startsWith('null', i) ? i + 4 : -1;
      else return -1;
      if (i < 0 || depth === 0) return i;
      expectValue = false;
      continue;
    }
    // After a value inside a container: a comma, or the end of the container.
    i = skipSpace(s, i);
    const c = s.charCodeAt(i);
    if (c === 0x2c) { // ,
      i = skipSpace(s, i + 1);
      if (open[depth] === OBJECT) { i = member(s, i); if (i < 0) return -1; }
      expectValue = true;
    } else if ((c === 0x7d && open[depth] === OBJECT) || (c === 0x5d && open[depth] === ARRAY)) {
      i++;
      if (--depth === 0) return i;
    } else return -1;
  }
}

/** A member's key and colon, from its opening quote; returns where its value starts, or -1. */
function member(s: string, i: number): number {
  if (s.charCodeAt(i) !== 0x22) return -1;
  i = string(s, i);
  if (i < 0) return -1;
  i = skipSpace(s, i);
  if (s.charCodeAt(i) !== 0x3a) return -1;
  return skipSpace(s, i + 1);
}

function skipSpace(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
    else return i;
  }
}

/** A string from its opening quote; returns the index past its closing quote, or -1. */
function string(s: string, i: number): number {
  const n = s.length;
  for (let j = i + 1; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c < 0x20) return -1; // control characters must be escaped
    if (c === 0x5c) {
      const e = s.charCodeAt(j + 1);
      if (e === 0x75) { // \uXXXX
        if (!isHex(s.charCodeAt(j + 2)) || !isHex(s.charCodeAt(j + 3)) || !isHex(s.charCodeAt(j + 4)) || !isHex(s.charCodeAt(j + 5))) return -1;
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
function number(s: string, i: number): number {
  if (s.charCodeAt(i) === 0x2d) i++;
  const intStart = i;
  if (s.charCodeAt(i) === 0x30) i++;
  else if (isDigit(s.charCodeAt(i))) while (isDigit(s.charCodeAt(i))) i++;
  else return -1;
  const intDigits = i - intStart;
  let fracDigits = 0;
  if (s.charCodeAt(i) === 0x2e) {
    if (!isDigit(s.charCodeAt(++i))) return -1;
    const fracStart = i;
    while (isDigit(s.charCodeAt(i))) i++;
    fracDigits = i - fracStart;
  }
  let exponent = 0;
  const e = s.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    const sign = s.charCodeAt(++i);
    if (sign === 0x2b || sign === 0x2d) i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (s.charCodeAt(i) === 0x30) i++; // leading zeros say nothing (strtol reads past them too)
    const expStart = i;
    while (isDigit(s.charCodeAt(i))) i++;
    // Beyond 10 digits the exponent is out of range whatever the digits; parse no more than that.
    exponent = i - expStart > 10 ? 1e11 : i > expStart ? +s.slice(expStart, i) : 0;
    if (sign === 0x2d) exponent = -exponent;
    // Postgres refuses such an exponent before it looks at the digits, zero included.
    if (exponent >= NUMERIC_MAX_EXPONENT || exponent <= -NUMERIC_MAX_EXPONENT) numberOutOfRange = true;
  }
  if (exponent !== 0 || intDigits > NUMERIC_MAX_INTEGER_DIGITS || fracDigits > NUMERIC_MAX_SCALE) {
    if (Math.max(0, fracDigits - exponent) > NUMERIC_MAX_SCALE) numberOutOfRange = true;
    else {
      // The power of ten of the first nonzero digit, with the exponent applied.
      const first = firstNonZeroDigit(s, intStart, intDigits, fracDigits);
      if (first !== null && first + exponent >= NUMERIC_MAX_INTEGER_DIGITS) numberOutOfRange = true;
    }
  }
  return i;
}

/** The power of ten of a number's first nonzero digit (digits from `at`), or null for zero. */
function firstNonZeroDigit(s: string, at: number, intDigits: number, fracDigits: number): number | null {
  for (let k = 0; k < intDigits; k++) if (s.charCodeAt(at + k) !== 0x30) return intDigits - 1 - k;
  for (let k = 0; k < fracDigits; k++) if (s.charCodeAt(at + intDigits + 1 + k) !== 0x30) return -1 - k;
  return null;
}
