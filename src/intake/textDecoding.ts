/**
 * Text in another encoding than UTF-8 (UTF-16 LE/BE, Windows-1252, ISO-8859-1), turned into UTF-8
 * as it arrives, so the spool, the readers and a resumed job only ever see UTF-8. A file that is
 * not valid in its encoding (an unpaired UTF-16 surrogate, an odd last byte, a byte Windows-1252
 * leaves undefined) is refused at the line and byte where it breaks, before a job exists.
 */
import { FileRefusal } from '../spool/spool.js';

export const TEXT_ENCODINGS = ['UTF8', 'UTF16LE', 'UTF16BE', 'WINDOWS_1252', 'ISO_8859_1'] as const;
export type TextEncoding = (typeof TEXT_ENCODINGS)[number];

const LF = 0x0a;
/** Bytes Windows-1252 assigns no character to (WHATWG's decoder would pass them on as C1 controls). */
const UNDEFINED_1252 = [0x81, 0x8d, 0x8f, 0x90, 0x9d];

const encodingHint = (encoding: TextEncoding) =>
  `Is it in another encoding than ${encoding}? Send encoding: UTF8, UTF16LE, UTF16BE, WINDOWS_1252 or ISO_8859_1`;

/** What the refusal says: the 1-based line and byte within it, and the byte of the file. */
function brokenAt(encoding: TextEncoding, reason: string, where: { offset: number; line: number; lineStart: number }): FileRefusal {
  return new FileRefusal('INVALID_FILE', `The file is not valid ${encoding}: line ${where.line}, byte ${where.offset - where.lineStart + 1} of the line `
    + `(byte ${where.offset + 1} of the file): ${reason}. ${encodingHint(encoding)}`);
}

/** The UTF-8 text of `source`, read as `encoding` (never UTF8: that needs no decoding). */
export async function* toUtf8(source: AsyncIterable<Buffer>, encoding: Exclude<TextEncoding, 'UTF8'>): AsyncGenerator<Buffer> {
  if (encoding === 'UTF16LE' || encoding === 'UTF16BE') yield* fromUtf16(source, encoding);
  else yield* fromSingleByte(source, encoding);
}

async function* fromSingleByte(source: AsyncIterable<Buffer>, encoding: 'WINDOWS_1252' | 'ISO_8859_1'): AsyncGenerator<Buffer> {
  const decoder = encoding === 'WINDOWS_1252' ? new TextDecoder('windows-1252') : null;
  let at = 0;
  let line = 1;
  let lineStart = 0;
  for await (const chunk of source as AsyncIterable<Buffer>) {
    if (decoder) {
      let bad = -1;
      for (const b of UNDEFINED_1252) {
        const i = chunk.indexOf(b);
        if (i !== -1 && (bad === -1 || i < bad)) bad = i;
      }
      if (bad !== -1) {
        for (let i = chunk.indexOf(LF); i !== -1 && i < bad; i = chunk.indexOf(LF, i + 1)) { line++; lineStart = at + i + 1; }
        throw brokenAt(encoding, `byte 0x${chunk[bad].toString(16).toUpperCase()} is not a Windows-1252 character`, { offset: at + bad, line, lineStart });
      }
    }
    for (let i = chunk.indexOf(LF); i !== -1; i = chunk.indexOf(LF, i + 1)) { line++; lineStart = at + i + 1; }
    at += chunk.length;
    // ISO-8859-1 maps every byte to the code point of its value: Node's latin1 is exactly that.
    yield Buffer.from(decoder ? decoder.decode(chunk, { stream: true }) : chunk.toString('latin1'), 'utf8');
  }
}

async function* fromUtf16(source: AsyncIterable<Buffer>, encoding: 'UTF16LE' | 'UTF16BE'): AsyncGenerator<Buffer> {
  // The BOM is kept, as U+FEFF: it becomes UTF-8's BOM, which the readers skip, and every code
  // unit of the text stands for two bytes of the file, so a position in one is one in the other.
  const decoder = new TextDecoder(encoding === 'UTF16LE' ? 'utf-16le' : 'utf-16be', { ignoreBOM: true });
  let units = 0; // code units decoded so far
  let line = 1;
  let lineStartUnit = 0;
  let chunkStart = 0; // file offset of the current chunk
  let chunk: Buffer = Buffer.alloc(0);
  const check = (text: string): void => {
    // The decoder writes U+FFFD for an unpaired surrogate or a last odd byte; a U+FFFD the file
    // itself holds is told apart by its bytes.
    for (let i = text.indexOf('\uFFFD'); i !== -1; i = text.indexOf('\uFFFD', i + 1)) {
      const offset = (units + i) * 2;
      const inChunk = offset - chunkStart;
      const own = inChunk >= 0 && inChunk + 1 < chunk.length
        && (encoding === 'UTF16LE' ? chunk[inChunk] === 0xfd && chunk[inChunk + 1] === 0xff : chunk[inChunk] === 0xff && chunk[inChunk + 1] === 0xfd);
      if (own) continue;
      for (let n = text.indexOf('\n'); n !== -1 && n < i; n = text.indexOf('\n', n + 1)) { line++; lineStartUnit = units + n + 1; }
      throw brokenAt(encoding, 'an unpaired surrogate, or a last byte without its pair', { offset, line, lineStart: lineStartUnit * 2 });
    }
    for (let n = text.indexOf('\n'); n !== -1; n = text.indexOf('\n', n + 1)) { line++; lineStartUnit = units + n + 1; }
    units += text.length;
  };
  for await (const next of source as AsyncIterable<Buffer>) {
    chunk = next;
    const text = decoder.decode(chunk, { stream: true });
    check(text);
    chunkStart += chunk.length;
    if (text.length > 0) yield Buffer.from(text, 'utf8');
  }
  chunk = Buffer.alloc(0);
  const rest = decoder.decode();
  check(rest);
  if (rest.length > 0) yield Buffer.from(rest, 'utf8');
}
