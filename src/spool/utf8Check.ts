/**
 * Whether a file is valid UTF-8, checked piece by piece as it is written (by the hash thread for a
 * folder spool, by the S3 upload for an S3 one), and where it first is not: its line and the byte
 * in that line. A file refused here is refused before a job exists, with one clear message, rather
 * than failing row by row. Pieces may end inside a character: its first bytes wait for the next.
 */
import { isUtf8 } from 'node:buffer';

export interface Utf8Break {
  /** Byte offset in the file of the first byte that is not UTF-8. */
  offset: number;
  /** 1-based line (lines end at LF). */
  line: number;
  /** 1-based byte within that line. */
  byte: number;
}

const LF = 0x0a;

/** How many bytes the character that starts with `lead` has (1 for a byte no character starts with: isUtf8 refuses it). */
function charLength(lead: number): number {
  if (lead < 0xc2) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return lead < 0xf5 ? 4 : 1;
}

/** Where the last character of `piece` starts if it is cut off by the piece's end, else the piece's length. */
function completeEnd(piece: Buffer, from: number): number {
  const len = piece.length;
  for (let k = 1; k <= 3 && len - k >= from; k++) {
    const b = piece[len - k];
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    return charLength(b) > k ? len - k : len;
  }
  return len;
}

/** The index of the first byte in [from, end) that starts no valid character (end if none); run only once isUtf8 has said no. */
function firstInvalid(b: Buffer, from: number, end: number): number {
  let i = from;
  while (i < end) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    const n = charLength(c) - 1;
    if (n === 0 || i + n >= end) return i; // no character starts here, or it is cut off
    for (let k = 1; k <= n; k++) if ((b[i + k] & 0xc0) !== 0x80) return i;
    const second = b[i + 1];
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if ((c === 0xe0 && second < 0xa0) || (c === 0xed && second > 0x9f) || (c === 0xf0 && second < 0x90) || (c === 0xf4 && second > 0x8f)) return i;
    i += n + 1;
  }
  return end;
}

export class Utf8Check {
  /**
   * countLines false: the lines are not counted as the file passes (it costs a call per line),
   * and a break's line and byte are 0 until `locate` finds them in the file.
   */
  constructor(private readonly countLines = true) {}

  /** The file offset of the next byte fed. */
  private at = 0;
  private lines = 0;
  /** The file offset just past the last LF seen. */
  private lineStart = 0;
  private readonly carry = Buffer.alloc(4);
  private carried = 0;
  private broken: Utf8Break | null = null;

  get result(): Utf8Break | null { return this.broken; }

  /** The next bytes of the file, in order. */
  feed(piece: Buffer): void {
    if (this.broken || piece.length === 0) return;
    let from = 0;
    if (this.carried > 0) {
      const carryStart = this.at - this.carried;
      const want = charLength(this.carry[0]);
      from = Math.min(want - this.carried, piece.length);
      piece.copy(this.carry, this.carried, 0, from);
      this.carried += from;
      if (this.carried < want) { this.at += piece.length; return; }
      if (!isUtf8(this.carry.subarray(0, want))) { this.breakAt(carryStart); return; }
      this.carried = 0;
    }
    const end = completeEnd(piece, from);
    if (!isUtf8(piece.subarray(from, end))) {
      const bad = firstInvalid(piece, from, end);
      this.linesIn(piece, from, bad);
      this.breakAt(this.at + bad);
      return;
    }
    this.linesIn(piece, from, end);
    piece.copy(this.carry, 0, end);
    this.carried = piece.length - end;
    this.at += piece.length;
  }

  /** The file has ended: a character cut off by its end is not valid. */
  finish(): Utf8Break | null {
    if (!this.broken && this.carried > 0) this.breakAt(this.at - this.carried);
    return this.broken;
  }

  private linesIn(piece: Buffer, from: number, to: number): void {
    if (!this.countLines) return;
    for (let i = piece.indexOf(LF, from); i !== -1 && i < to; i = piece.indexOf(LF, i + 1)) {
      this.lines++;
      this.lineStart = this.at + i + 1;
    }
  }

  private breakAt(offset: number): void {
    this.broken = this.countLines ? { offset, line: this.lines + 1, byte: offset - this.lineStart + 1 } : { offset, line: 0, byte: 0 };
  }
}

/** A break's line and byte, from the file's bytes before it (read in pieces by `read`). */
export function locate(offset: number, read: (into: Buffer, at: number) => number, buffer: Buffer): Utf8Break {
  let line = 1;
  let lineStart = 0;
  for (let at = 0; at < offset;) {
    const n = read(buffer.subarray(0, Math.min(buffer.length, offset - at)), at);
    if (n === 0) break;
    for (let i = buffer.indexOf(LF); i !== -1 && i < n; i = buffer.indexOf(LF, i + 1)) { line++; lineStart = at + i + 1; }
    at += n;
  }
  return { offset, line, byte: offset - lineStart + 1 };
}

/** The message a file gets that is not valid UTF-8, pointing at `encoding`. */
export function notUtf8Message(where: Utf8Break): string {
  return `The file is not valid UTF-8: line ${where.line}, byte ${where.byte} of the line (byte ${where.offset + 1} of the file). `
    + 'If it was saved in another encoding, say which with encoding: WINDOWS_1252 (Excel\'s "CSV" on Windows), ISO_8859_1, UTF16LE or UTF16BE';
}
