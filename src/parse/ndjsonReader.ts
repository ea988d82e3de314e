/**
 * NDJSON: one JSON value per line. Split on LF at the byte level (so offsets are exact), decode
 * each line, JSON.parse it. Blank lines are skipped; a line that does not parse, is not UTF-8,
 * or is longer than MAX_NDJSON_LINE_BYTES is a row error, and reading goes on at the next line
 * (so memory stays bounded whatever the file holds).
 */
import { isUtf8 } from 'node:buffer';
import { openChunks } from './fileChunks.js';
import type { ReadFrom, RecordBatch, RecordBytes, SourceRecord } from './types.js';
import { Utf8Marks } from './utf8Marks.js';

export const MAX_NDJSON_LINE_BYTES = 4 * 1024 * 1024;

const LF = 0x0a;

type NdjsonFrom = ReadFrom & { maxLineBytes?: number };

/** Lines decoded and parsed. */
export function readNdjson(from: NdjsonFrom): AsyncGenerator<RecordBatch>;
/** Lines that start an object as bytes, for the row pipeline's byte path; the others decoded. */
export function readNdjson(from: NdjsonFrom & { decode: false }): AsyncGenerator<RecordBatch<SourceRecord | RecordBytes>>;
export async function* readNdjson(from: NdjsonFrom & { decode?: boolean }): AsyncGenerator<RecordBatch<SourceRecord | RecordBytes>> {
  const maxLine = from.maxLineBytes ?? MAX_NDJSON_LINE_BYTES;
  const decode = from.decode !== false;
  let carry: Buffer | null = null;
  let skippingLongLine = false; // inside a line already reported as too long
  let offset = from.offset; // file offset of carry[0], or of the next byte to read when there is no carry
  let line = from.line;
  let records: (SourceRecord | RecordBytes)[] = [];
  const utf8 = new Utf8Marks(!decode);

  const take = (buf: Buffer, start: number, end: number) => {
    line += 1;
    if (end - start > maxLine) {
      // The same limit whether the line arrived in one chunk or in many.
      records.push({ line, raw: buf.toString('utf8', start, start + 200), parseError: `the line is longer than ${maxLine} bytes` });
      return;
    }
    // A line that opens an object (after ASCII spaces) is never blank: the pipeline may read it as
    // bytes. Anything else is decided here, where blank lines are skipped.
    if (!decode && opensObject(buf, start, end)) {
      records.push({ line, data: buf, start, end, utf8: false });
      return;
    }
    const record = decodeNdjsonLine({ line, data: buf, start, end, utf8: false });
    if (record) records.push(record);
  };

  /** The carry (an unfinished line) grew past the limit: report it once, and drop it. */
  const dropOverlongCarry = () => {
    if (!carry || carry.length <= maxLine) return;
    if (!skippingLongLine) {
      line += 1;
      records.push({ line, raw: carry.toString('utf8', 0, 200), parseError: `the line is longer than ${maxLine} bytes` });
      skippingLongLine = true;
    }
    offset += carry.length;
    carry = null;
  };

  // A buffer may be read over once no record waiting to be handed out lies in it (the records
  // handed out before are done with: see ReadFrom.reuseBuffers).
  const reuse = from.reuseBuffers ? (buffer: ArrayBufferLike) => !records.some((r) => r.data?.buffer === buffer) : undefined;
  const chunks = await openChunks({ path: from.path, offset: from.offset, chunkBytes: from.chunkBytes ?? 1 << 20, signal: from.signal, reuse, store: from.store });
  try {
    for (let chunk = await chunks.next(); chunk; chunk = await chunks.next()) {
      // Lines are read where they lie in the chunk. Only a line split between chunks is joined, on
      // its own: joining the whole chunk to the previous one's tail copied every byte of the file.
      let start = 0;
      if (carry) {
        const nl = chunk.indexOf(LF);
        if (nl === -1) { // the line goes on past this chunk too
          carry = Buffer.concat([carry, chunk]);
          dropOverlongCarry();
          continue;
        }
        const joined = Buffer.concat([carry, chunk.subarray(0, nl + 1)]);
        utf8.newBuffer();
        if (skippingLongLine) skippingLongLine = false;
        else take(joined, 0, joined.length - 1);
        utf8.mark(records, joined, joined.length);
        offset += joined.length;
        carry = null;
        start = nl + 1;
        if (records.length >= from.batchSize) {
          yield { records, endOffset: offset, endLine: line };
          records = [];
          utf8.newBatch();
        }
      }
      const base = offset - start; // file offset of chunk[0]
      let nl: number;
      utf8.newBuffer(start);
      while ((nl = chunk.indexOf(LF, start)) !== -1) {
        if (skippingLongLine) skippingLongLine = false; // the end of the long line: drop it
        else take(chunk, start, nl);
        start = nl + 1;
        if (records.length >= from.batchSize) {
          utf8.mark(records, chunk, start);
          yield { records, endOffset: base + start, endLine: line };
          records = [];
          utf8.newBatch();
        }
      }
      utf8.mark(records, chunk, start);
      offset = base + start;
      carry = start < chunk.length ? Buffer.from(chunk.subarray(start)) : null;
      dropOverlongCarry();
    }
  } finally {
    await chunks.close();
  }
  if (carry && carry.length > 0) {
    utf8.newBuffer();
    if (!skippingLongLine) take(carry, 0, carry.length);
    utf8.mark(records, carry, carry.length);
    offset += carry.length;
  }
  yield { records, endOffset: offset, endLine: line };
}

/** One line's record: its text parsed, or what is wrong with it; null for a blank line. */
export function decodeNdjsonLine({ line, data, start, end }: RecordBytes): SourceRecord | null {
  let text = data.toString('utf8', start, end);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return null;
  if (text.includes('\uFFFD') && !isUtf8(data.subarray(start, end))) return { line, raw: text, parseError: 'the line is not valid UTF-8' };
  try {
    return { line, raw: text, json: JSON.parse(text) };
  } catch (err) {
    return { line, raw: text, parseError: `invalid JSON: ${(err as Error).message}` };
  }
}

/** The first byte after ASCII spaces is `{`. */
function opensObject(buf: Buffer, start: number, end: number): boolean {
  let i = start;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d)) i++;
  return i < end && buf[i] === 0x7b;
}
