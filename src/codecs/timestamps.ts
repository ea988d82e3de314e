/**
 * Reading the ISO 8601 timestamps the kinds accept, once per row on the hot path: checked here
 * (kinds/values.ts checkTimestamp) and turned into the instant Postgres stores (codecs/copyBinary.ts).
 * A hand-written reader rather than a regular expression: it allocates nothing, and the
 * timestamp, once a large share of parsing, became a small one (docs/performance.md).
 *
 * Accepted: YYYY-MM-DD, a space or T, HH:MM, optionally :SS and a fraction of 1-9 digits,
 * optionally a zone: Z, or +HH, +HHMM, +HH:MM (or -). No zone means UTC, the service's session
 * time zone.
 */

export enum TimestampCheck { Ok, BadFormat, NotReal, OffsetOutOfRange }

/**
 * The last timestamp read Ok: where it was read from (its string, or its bytes: `bytes[start,
 * end)`; null for the other), and its instant as whole seconds since 2000-01-01 UTC (Postgres'
 * epoch) and microseconds. A row's timestamp is checked, then encoded: the second reading is this
 * one (isLastTimestamp). The bytes the byte path reads are never rewritten (file chunks, NDJSON
 * lines; a CSV field copied to unescape its quotes holds a quote, so it is never a timestamp), so
 * the same bytes at the same place are the same timestamp.
 */
export const lastTimestamp = {
  text: null as string | null,
  bytes: null as Uint8Array | null,
  start: 0,
  end: 0,
  seconds: 0,
  micros: 0,
};

/** Whether `b[start, end)` is where the last timestamp read Ok came from. */
export function isLastTimestamp(b: Uint8Array, start: number, end: number): boolean {
  return lastTimestamp.bytes === b && lastTimestamp.start === start && lastTimestamp.end === end;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const EPOCH_2000_DAYS = 10957; // days from 1970-01-01 to 2000-01-01

/** The longest text a timestamp can be: 2024-01-01T00:00:00.123456789+05:30. */
const MAX_TIMESTAMP_CHARS = 35;
/**
 * A string timestamp's bytes, for the one reader below (every character it accepts is ASCII). A
 * Buffer, like the file chunks the byte path reads: one kind of array at the reader's loads.
 */
const scratch = Buffer.alloc(MAX_TIMESTAMP_CHARS);

/** A timestamp given as a string (NDJSON, and rows the byte path passed over). */
export function readTimestamp(s: string): TimestampCheck {
  if (s === lastTimestamp.text) return TimestampCheck.Ok;
  const n = s.length;
  if (n > MAX_TIMESTAMP_CHARS) return TimestampCheck.BadFormat;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return TimestampCheck.BadFormat;
    scratch[i] = c;
  }
  const check = readTimestampBytes(scratch, 0, n);
  if (check === TimestampCheck.Ok) { lastTimestamp.text = s; lastTimestamp.bytes = null; } // scratch is rewritten by the next string
  return check;
}

/**
 * The timestamp written in `b` from `start` to `end` (a field read as bytes). Ok sets
 * lastTimestamp: these bytes, and the instant; its text is the string reader's business and is
 * cleared here (null: no string says this instant, not even the empty one).
 */
export function readTimestampBytes(b: Uint8Array, start: number, end: number): TimestampCheck {
  const n = end - start;
  if (n < 16 || n > MAX_TIMESTAMP_CHARS) return TimestampCheck.BadFormat;
  const s = start;
  const year = digits(b, s, 4), month = digits(b, s + 5, 2), day = digits(b, s + 8, 2), hour = digits(b, s + 11, 2), minute = digits(b, s + 14, 2);
  const t = b[s + 10];
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || b[s + 4] !== 0x2d || b[s + 7] !== 0x2d
    || (t !== 0x54 && t !== 0x20) || b[s + 13] !== 0x3a) return TimestampCheck.BadFormat;
  let i = s + 16;
  let second = 0;
  let micros = 0;
  if (i < end && b[i] === 0x3a) {
    second = i + 3 <= end ? digits(b, i + 1, 2) : -1;
    if (second < 0) return TimestampCheck.BadFormat;
    i += 3;
    if (i < end && b[i] === 0x2e) {
      const from = i + 1;
      let to = from;
      while (to < end && to - from < 10 && isDigit(b[to])) to++;
      const count = to - from;
      if (count === 0 || count > 9) return TimestampCheck.BadFormat;
      // Postgres: rint(strtod(fraction) * 1e6). Up to 6 digits that is the digits themselves;
      // beyond, the same double arithmetic, rounded half to even as C's rint() does.
      micros = count <= 6 ? digits(b, from, count) * 10 ** (6 - count)
        : roundHalfEven(parseFloat(`0.${String.fromCharCode(...b.subarray(from, to))}`) * 1e6);
      i = to;
    }
  }
  let offset = 0;
  if (i < end) {
    const z = b[i];
    if (z === 0x5a) {
      if (i + 1 !== end) return TimestampCheck.BadFormat;
    } else if (z === 0x2b || z === 0x2d) {
      const hours = i + 3 <= end ? digits(b, i + 1, 2) : -1;
      if (hours < 0) return TimestampCheck.BadFormat;
      i += 3;
      let minutes = 0;
      if (i < end) {
        if (b[i] === 0x3a) i++;
        minutes = i + 2 === end ? digits(b, i, 2) : -1;
        if (minutes < 0) return TimestampCheck.BadFormat;
      }
      // Postgres refuses offsets beyond 15:59 ("time zone displacement out of range").
      if (hours > 15 || minutes > 59) return TimestampCheck.OffsetOutOfRange;
      offset = (hours * 3600 + minutes * 60) * (z === 0x2b ? 1 : -1);
    } else return TimestampCheck.BadFormat;
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const validDay = day >= 1 && day <= (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1]);
  if (year < 1 || month < 1 || month > 12 || !validDay || hour > 23 || minute > 59 || second > 59) return TimestampCheck.NotReal;
  lastTimestamp.text = null;
  lastTimestamp.bytes = b;
  lastTimestamp.start = start;
  lastTimestamp.end = end;
  lastTimestamp.seconds = (daysFromCivil(year, month, day) - EPOCH_2000_DAYS) * 86400 + hour * 3600 + minute * 60 + second - offset;
  lastTimestamp.micros = micros;
  return TimestampCheck.Ok;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** The number written by `count` digits at `at` (all within the text), or -1 if any of them is not a digit. */
function digits(b: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = b[i];
    if (!isDigit(c)) return -1;
    value = value * 10 + (c - 0x30);
  }
  return value;
}

/** C's rint() in the default rounding mode. */
function roundHalfEven(x: number): number {
  const r = Math.round(x); // rounds halves up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}
