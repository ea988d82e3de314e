/**
 * NDJSON: one JSON value per line. Split on LF at the byte level (so offsets are exact), decode
 * each line, JSON.parse it. Blank lines are skipped; a line that does not parse, is not UTF-8,
 * or is longer than MAX_NDJSON_LINE_BYTES is a row error, and reading goes on at the next line
 * (so memory stays bounded whatever the file holds).
 */
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import type { ReadFrom, RecordBatch, SourceRecord } from './types.js';

export const MAX_NDJSON_LINE_BYTES = 4 * 1024 * 1024;

const LF = 0x0a;

export async function* readNdjson(from: ReadFrom & { maxLineBytes?: number }): AsyncGenerator<RecordBatch> {
  const maxLine = from.maxLineBytes ?? MAX_NDJSON_LINE_BYTES;
  const stream = fs.createReadStream(from.path, { start: from.offset, highWaterMark: from.chunkBytes ?? 1 << 20, signal: from.signal });
  let carry: Buffer | null = null;
  let skippingLongLine = false; // inside a line already reported as too long
  let offset = from.offset; // file offset of carry[0] (or of the next chunk when carry is empty)
  let line = from.line;
  let records: SourceRecord[] = [];

  const take = (bytes: Buffer) => {
    line += 1;
    if (bytes.length > maxLine) {
      // The same limit whether the line arrived in one chunk or in many.
      records.push({ line, raw: bytes.toString('utf8', 0, 200), parseError: `the line is longer than ${maxLine} bytes` });
      return;
    }
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return;
    if (text.includes('\uFFFD') && !isUtf8(bytes)) {
      records.push({ line, raw: text, parseError: 'the line is not valid UTF-8' });
      return;
    }
    try {
      records.push({ line, raw: text, json: JSON.parse(text) });
    } catch (err) {
      records.push({ line, raw: text, parseError: `invalid JSON: ${(err as Error).message}` });
    }
  };

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    let nl: number;
    while ((nl = buf.indexOf(LF, start)) !== -1) {
      if (skippingLongLine) skippingLongLine = false; // the end of the long line: drop it
      else take(buf.subarray(start, nl));
      start = nl + 1;
      if (records.length >= from.batchSize) {
        yield { records, endOffset: offset + start, endLine: line };
        records = [];
      }
    }
    offset += start;
    carry = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
    if (carry && carry.length > maxLine) {
      if (!skippingLongLine) {
        line += 1;
        records.push({ line, raw: carry.toString('utf8', 0, 200), parseError: `the line is longer than ${maxLine} bytes` });
        skippingLongLine = true;
      }
      offset += carry.length;
      carry = null;
    }
  }
  if (carry && carry.length > 0) {
    if (!skippingLongLine) take(carry);
    offset += carry.length;
  }
  yield { records, endOffset: offset, endLine: line };
}
