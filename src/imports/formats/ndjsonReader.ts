/**
 * NDJSON: one JSON value per line. Split on LF at the byte level (so offsets are exact), decode
 * each line, JSON.parse it. Blank lines are skipped; a line that does not parse is a row error.
 */
import fs from 'node:fs';
import type { ReadFrom, RecordBatch, SourceRecord } from './types.js';

const LF = 0x0a;

export async function* readNdjson(from: ReadFrom): AsyncGenerator<RecordBatch> {
  const stream = fs.createReadStream(from.path, { start: from.offset, highWaterMark: 1 << 20, signal: from.signal });
  let carry: Buffer | null = null;
  let offset = from.offset; // file offset of carry[0] (or of the next chunk when carry is empty)
  let line = from.line;
  let records: SourceRecord[] = [];

  const take = (bytes: Buffer) => {
    line += 1;
    let text = bytes.toString('utf8');
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return;
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
      take(buf.subarray(start, nl));
      start = nl + 1;
      if (records.length >= from.batchSize) {
        yield { records, endOffset: offset + start, endLine: line };
        records = [];
      }
    }
    offset += start;
    carry = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
  }
  if (carry && carry.length > 0) {
    take(carry);
    offset += carry.length;
  }
  if (records.length > 0 || offset > from.offset) yield { records, endOffset: offset, endLine: line };
}
