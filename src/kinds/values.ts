/**
 * Checks for single values, shared by the kinds. Each takes the raw value (a CSV string, or any
 * JSON value from NDJSON), reports a failure through `fail`, and returns the text that COPY
 * receives (null for SQL NULL). Whatever passes here must also be accepted by Postgres, since one
 * value it rejects would fail the whole batch's COPY.
 */
import { checkJsonObjectBytes, checkJsonObjectText, hadUnicodeEscape, JsonText, JsonTextCheck, numberWasOutOfRange } from '../codecs/jsonText.js';
import { readTimestamp, TimestampCheck } from '../codecs/timestamps.js';
import type { ErrorSink } from './types.js';

export function shown(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return capped(value);
  if (value instanceof JsonText) return capped(value.text);
  try {
    return capped(JSON.stringify(value));
  } catch {
    return '(a value too deeply nested to show)'; // JSON.stringify recurses: 30,000 levels overflow
  }
}

/**
 * A rejected value is shown (`JobError.value`, the error report) up to this many characters; the
 * report's raw row still has it whole. A row may be 4 MiB: a page of 1,000 errors could otherwise
 * make one answer gigabytes.
 */
export const MAX_SHOWN_VALUE_CHARS = 1000;

function capped(s: string): string {
  if (s.length <= MAX_SHOWN_VALUE_CHARS) return s;
  // Never half a surrogate pair: it would be invalid Unicode of ours.
  const end = MAX_SHOWN_VALUE_CHARS - (/[\uD800-\uDBFF]/.test(s[MAX_SHOWN_VALUE_CHARS - 1]) ? 1 : 0);
  return `${s.slice(0, end)}… (${s.length - end} more characters)`;
}

/**
 * A value a unique index is built on (dedup keys, natural keys): a btree entry holds at most
 * ~2,700 bytes, and one longer key would fail the whole batch's COPY, so longer keys are row errors.
 */
export const MAX_KEY_BYTES = 2000;
export const isTooLongForKey = (key: string): boolean => key.length > MAX_KEY_BYTES / 3 && Buffer.byteLength(key) > MAX_KEY_BYTES;

/** Absent: missing, null or empty. A required column that is absent gets "is required". */
export function absent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** Text columns: empty means absent; Postgres text cannot hold NUL. */
export function text(value: unknown, column: string, fail: ErrorSink): string | null {
  if (value === undefined || value === null || value === '') return null;
  // JSON.parse has already rounded such a number (9007199254740993 reads as ...992): kept as text,
  // it would be another value, and two ids could become one.
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) {
    // Not shown as the value: it is the rounded number, not the file's (the report's raw row has that).
    fail(column, null, `${column} is a number too large to keep exactly (beyond 2^53 - 1); send it as a string`);
    return null;
  }
  const s = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;
  if (s === null) { fail(column, value, `${column} must be a string`); return null; }
  if (s.includes('\0')) { fail(column, s, `${column} contains a NUL byte`); return null; }
  // Only JSON can carry a lone surrogate (UTF-8 text cannot); Postgres would store it as U+FFFD.
  if (!s.isWellFormed()) { fail(column, s, `${column} contains an unpaired surrogate (invalid Unicode)`); return null; }
  return s;
}

const INT_RE = /^\d{1,10}$/;
export function checkNonNegativeInt(value: unknown, column: string, fail: ErrorSink): string | null {
  if (value === undefined || value === null || value === '') return null;
  const s = typeof value === 'number' ? String(value) : value;
  if (typeof s !== 'string' || !INT_RE.test(s) || Number(s) > 2_147_483_647) {
    fail(column, value, `${column} must be a non-negative integer`);
    return null;
  }
  return s;
}

/** checkNonNegativeInt's rule on bytes: 1-10 digits, at most 2^31-1. */
export function isNonNegativeIntBytes(b: Uint8Array, start: number, end: number): boolean {
  if (end <= start || end - start > 10) return false;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c < 0x30 || c > 0x39) return false;
    n = n * 10 + (c - 0x30);
  }
  return n <= 2_147_483_647;
}

export function checkTimestamp(value: unknown, column: string, fail: ErrorSink, required: boolean): string | null {
  if (value === undefined || value === null || value === '') {
    if (required) fail(column, null, `${column} is required`);
    return null;
  }
  const check = typeof value === 'string' ? readTimestamp(value) : TimestampCheck.BadFormat;
  if (check === TimestampCheck.Ok) return value as string;
  fail(column, value, check === TimestampCheck.NotReal ? `${column} is not a real date and time`
    : check === TimestampCheck.OffsetOutOfRange ? `${column} has a time zone offset out of range (at most ±15:59)`
      : `${column} must be an ISO 8601 timestamp such as 2024-07-28T08:55:35Z`);
  return null;
}

/**
 * Postgres' jsonb refuses the escapes \u0000 and unpaired surrogates, which JSON.parse accepts.
 * Escapes are read one after another, so an escaped backslash followed by "u0000" (plain text) is
 * told apart from the escape \u0000.
 */
function hasPgUnsafeEscape(json: string): boolean {
  const escape = /\\(u[0-9a-fA-F]{4}|[^u])/g;
  let pendingHigh = -1; // end index of a high surrogate escape waiting for its low half
  for (let m = escape.exec(json); m; m = escape.exec(json)) {
    if (m[1].length !== 5) { if (pendingHigh >= 0) return true; continue; }
    const code = parseInt(m[1].slice(1), 16);
    const isHigh = code >= 0xd800 && code <= 0xdbff;
    const isLow = code >= 0xdc00 && code <= 0xdfff;
    if (pendingHigh >= 0) {
      if (!isLow || m.index !== pendingHigh) return true;
      pendingHigh = -1;
      continue;
    }
    if (code === 0 || isLow) return true;
    if (isHigh) pendingHigh = m.index + m[0].length;
  }
  return pendingHigh >= 0;
}

export const MAX_JSON_DEPTH = 64;

/** Deepest nesting of objects and arrays in a JSON text (brackets inside strings don't count). */
function jsonDepth(json: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) { if (++depth > max) max = depth; }
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/**
 * A JSON object: from CSV, its JSON text; from NDJSON, its own text from the line (a JsonText) or
 * the object itself. Empty means absent.
 */
export function checkJsonObject(value: unknown, column: string, fail: ErrorSink): string | null {
  if (value === undefined || value === null || value === '') return null;
  // The common case, a well-formed object, is answered without building it; the rest goes the
  // long way, which also finds the reason to report.
  if (typeof value === 'string' || value instanceof JsonText) {
    const json = typeof value === 'string' ? value : value.text;
    const check = checkJsonObjectText(json, MAX_JSON_DEPTH);
    if (check === JsonTextCheck.Object) return withStorableEscapes(json, column, fail);
    if (check === JsonTextCheck.NumberOutOfRange) {
      fail(column, json, `${column} has a number Postgres cannot store (at most 131072 digits before the decimal point and 16383 after)`);
      return null;
    }
    if (value instanceof JsonText) value = JSON.parse(value.text) as unknown; // valid JSON (its line parsed): the object path says what is wrong
  }
  let textValue: string;
  let parsed: unknown;
  if (typeof value === 'string') {
    try { parsed = JSON.parse(value); } catch (err) {
      fail(column, value, `${column} is not valid JSON: ${(err as Error).message}`);
      return null;
    }
    textValue = value;
  } else {
    parsed = value;
    try {
      textValue = JSON.stringify(value);
    } catch {
      // JSON.parse reads any depth, JSON.stringify recurses: a value nested ~30,000 levels overflows.
      fail(column, null, `${column} is nested more than ${MAX_JSON_DEPTH} levels deep`);
      return null;
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail(column, value, `${column} must be a JSON object`);
    return null;
  }
  // Postgres parses jsonb recursively: past its stack depth the whole batch's COPY would fail.
  if (textValue.length > 2 * MAX_JSON_DEPTH && jsonDepth(textValue) > MAX_JSON_DEPTH) {
    fail(column, value, `${column} is nested more than ${MAX_JSON_DEPTH} levels deep`);
    return null;
  }
  return withStorableEscapes(textValue, column, fail);
}

/**
 * A JSON object text (bytes) that checkJsonObject stores as it is. Any \u escape (the scan that
 * checks the object notes one) is left to checkJsonObject (hasPgUnsafeEscape): rare in files, and
 * this need not decide it.
 */
export function isStorableJsonObjectBytes(b: Uint8Array, start: number, end: number): boolean {
  // Scanned where it lies: a view of the field (subarray) per row was a visible share of CSV parsing (docs/performance.md).
  return checkJsonObjectBytes(b, MAX_JSON_DEPTH, start, end) !== JsonTextCheck.NotAnObject && scannedJsonIsStorable();
}

/**
 * After a scan of JSON text (checkJsonObjectBytes, jsonValueEnd): whether checkJsonObject would
 * store it as it is, were it an object: no number beyond Postgres' numeric, no \u escape.
 */
export const scannedJsonIsStorable = (): boolean => !numberWasOutOfRange() && !hadUnicodeEscape();

function withStorableEscapes(json: string, column: string, fail: ErrorSink): string | null {
  if (json.includes('\\u') && hasPgUnsafeEscape(json)) {
    fail(column, json, `${column} contains a \\u0000 or an unpaired surrogate, which Postgres cannot store`);
    return null;
  }
  return json;
}

/** One of a few words, matched case-insensitively and returned lower-case; absent stays null. */
export function oneOf(value: unknown, column: string, choices: readonly string[], fail: ErrorSink): string | null {
  const s = text(value, column, fail);
  if (s === null) return null;
  const word = s.trim().toLowerCase();
  if (choices.includes(word)) return word;
  fail(column, s, `${column} must be ${choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`}`);
  return null;
}

/** A required text value: absent fails with "is required". */
export function requiredText(value: unknown, column: string, fail: ErrorSink): string | null {
  const s = text(value, column, fail);
  if (s === null && absent(value)) fail(column, null, `${column} is required`);
  return s;
}
