/**
 * Is this text a JSON object, nested at most `maxDepth` deep? Answered by reading it once,
 * without building it: a CSV `metadata` cell is only checked and then copied as its own text, and
 * JSON.parse built the whole value for nothing (~14% of CSV parsing here). As strict as JSON.parse
 * (RFC 8259). A false answer is not an error message: the caller then asks JSON.parse why.
 */

const OBJECT = 1;
const ARRAY = 2;
const MAX_DEPTH = 255;
/** The open containers, innermost last; the check runs once per row, so this is reused. */
const open = new Uint8Array(MAX_DEPTH + 1);

export function isJsonObjectText(s: string, maxDepth: number): boolean {
  if (maxDepth > MAX_DEPTH) throw new Error(`isJsonObjectText reads at most ${MAX_DEPTH} levels`);
  const n = s.length;
  let i = skipSpace(s, 0);
  if (s.charCodeAt(i) !== 0x7b) return false;
  let depth = 0;
  let expectValue = true;
  for (;;) {
    if (expectValue) {
      const c = s.charCodeAt(i);
      if (c === 0x7b || c === 0x5b) { // { or [
        if (++depth > maxDepth) return false;
        open[depth] = c === 0x7b ? OBJECT : ARRAY;
        i = skipSpace(s, i + 1);
        if (s.charCodeAt(i) === (c === 0x7b ? 0x7d : 0x5d)) { i++; depth--; expectValue = false; continue; } // empty
        if (c === 0x7b) { i = member(s, i); if (i < 0) return false; }
        continue;
      }
      if (c === 0x22) i = string(s, i);
      else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) i = number(s, i);
      else if (c === 0x74) i = s.startsWith('true', i) ? i + 4 : -1;
      else if (c === 0x66) i = s.startsWith('false', i) ? i + 5 : -1;
      else if (c === 0x6e) i = s.startsWith('null', i) ? i + 4 : -1;
      else return false;
      if (i < 0) return false;
      expectValue = false;
      continue;
    }
    // After a value: a comma, or the end of its container.
    i = skipSpace(s, i);
    if (depth === 0) return i === n;
    const c = s.charCodeAt(i);
    if (c === 0x2c) { // ,
      i = skipSpace(s, i + 1);
      if (open[depth] === OBJECT) { i = member(s, i); if (i < 0) return false; }
      expectValue = true;
    } else if ((c === 0x7d && open[depth] === OBJECT) || (c === 0x5d && open[depth] === ARRAY)) {
      i++;
      depth--;
    } else return false;
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

/** -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? from `i`; returns the index past it, or -1. */
function number(s: string, i: number): number {
  if (s.charCodeAt(i) === 0x2d) i++;
  if (s.charCodeAt(i) === 0x30) i++;
  else if (isDigit(s.charCodeAt(i))) while (isDigit(s.charCodeAt(i))) i++;
  else return -1;
  if (s.charCodeAt(i) === 0x2e) {
    if (!isDigit(s.charCodeAt(++i))) return -1;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  const e = s.charCodeAt(i);
  if (e === 0x65 || e === 0x45) {
    const sign = s.charCodeAt(++i);
    if (sign === 0x2b || sign === 0x2d) i++;
    if (!isDigit(s.charCodeAt(i))) return -1;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  return i;
}
