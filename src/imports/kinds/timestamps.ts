/**
 * Reading the ISO 8601 timestamps the kinds accept, once per row on the hot path: checked here
 * (kinds/values.ts checkTimestamp) and turned into the instant Postgres stores (db/copyBinary.ts).
 * A hand-written reader rather than a regular expression: it allocates nothing and took the
 * timestamp's share of parsing from about 13% to a few percent.
 *
 * Accepted: YYYY-MM-DD, a space or T, HH:MM, optionally :SS and a fraction of 1-9 digits,
 * optionally a zone: Z, or +HH, +HHMM, +HH:MM (or -). No zone means UTC, the service's session
 * time zone.
 */

export enum TimestampCheck { Ok, BadFormat, NotReal, OffsetOutOfRange }

/**
 * The last timestamp read Ok: its text, and its instant as whole seconds since 2000-01-01 UTC
 * (Postgres' epoch) and microseconds. A row's timestamp is checked, then encoded: the second
 * reading is this one.
 */
export const lastTimestamp = { text: '', seconds: 0, micros: 0 };

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const EPOCH_2000_DAYS = 10957; // days from 1970-01-01 to 2000-01-01

export function readTimestamp(s: string): TimestampCheck {
  const n = s.length;
  if (n < 16) return TimestampCheck.BadFormat;
  const year = digits(s, 0, 4), month = digits(s, 5, 2), day = digits(s, 8, 2), hour = digits(s, 11, 2), minute = digits(s, 14, 2);
  const t = s.charCodeAt(10);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || s.charCodeAt(4) !== 0x2d || s.charCodeAt(7) !== 0x2d
    || (t !== 0x54 && t !== 0x20) || s.charCodeAt(13) !== 0x3a) return TimestampCheck.BadFormat;
  let i = 16;
  let second = 0;
  let micros = 0;
  if (i < n && s.charCodeAt(i) === 0x3a) {
    second = digits(s, i + 1, 2);
    if (second < 0) return TimestampCheck.BadFormat;
    i += 3;
    if (i < n && s.charCodeAt(i) === 0x2e) {
      const from = i + 1;
      let to = from;
      while (to < n && to - from < 10 && isDigit(s.charCodeAt(to))) to++;
      const count = to - from;
      if (count === 0 || count > 9) return TimestampCheck.BadFormat;
      // Postgres: rint(strtod(fraction) * 1e6). Up to 6 digits that is the digits themselves;
      // beyond, the same double arithmetic, rounded half to even as C's rint() does.
      micros = count <= 6 ? digits(s, from, count) * 10 ** (6 - count) : roundHalfEven(parseFloat(`0.${s.slice(from, to)}`) * 1e6);
      i = to;
    }
  }
  let offset = 0;
  if (i < n) {
    const z = s.charCodeAt(i);
    if (z === 0x5a) {
      if (i + 1 !== n) return TimestampCheck.BadFormat;
    } else if (z === 0x2b || z === 0x2d) {
      const hours = digits(s, i + 1, 2);
      if (hours < 0) return TimestampCheck.BadFormat;
      i += 3;
      let minutes = 0;
      if (i < n) {
        if (s.charCodeAt(i) === 0x3a) i++;
        minutes = digits(s, i, 2);
        if (minutes < 0 || i + 2 !== n) return TimestampCheck.BadFormat;
      }
      // Postgres refuses offsets beyond 15:59 ("time zone displacement out of range").
      if (hours > 15 || minutes > 59) return TimestampCheck.OffsetOutOfRange;
      offset = (hours * 3600 + minutes * 60) * (z === 0x2b ? 1 : -1);
    } else return TimestampCheck.BadFormat;
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const validDay = day >= 1 && day <= (month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1]);
  if (year < 1 || month < 1 || month > 12 || !validDay || hour > 23 || minute > 59 || second > 59) return TimestampCheck.NotReal;
  lastTimestamp.text = s;
  lastTimestamp.seconds = (daysFromCivil(year, month, day) - EPOCH_2000_DAYS) * 86400 + hour * 3600 + minute * 60 + second - offset;
  lastTimestamp.micros = micros;
  return TimestampCheck.Ok;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** The number written by `count` digits at `at`, or -1 if any of them is not a digit (or missing). */
function digits(s: string, at: number, count: number): number {
  if (at + count > s.length) return -1;
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const c = s.charCodeAt(i);
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
