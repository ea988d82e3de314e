/**
 * CSV reader for the import hot path. It frames records at the byte level, so each record's byte
 * offset (the checkpoint a resumed run starts from) and line number are exact, then splits each
 * record into fields. csv-parse, asked for the offsets and raw text this needs (`info` + `raw`),
 * was several times slower (docs/performance.md); this reader also keeps each record's raw text
 * so that a valid record can go to COPY unchanged.
 *
 * Dialect: RFC 4180 (a comma or another one-byte delimiter, double quotes, "" inside quotes), with
 * LF, CRLF or CR line ends, mixed
 * freely; a UTF-8 BOM at the start is skipped; blank lines are skipped. Framing treats every quote
 * as a toggle, as Postgres' COPY does, so framing agrees with COPY even on malformed input; the
 * field splitter then refuses what RFC 4180 does not allow (a quote inside an unquoted field,
 * text after a closing quote) as a row error. A record longer than MAX_CSV_RECORD_BYTES (an
 * unclosed quote, usually) is a row error too: reading resumes on the next line, so one stray
 * quote never swallows the rest of the file, and memory stays bounded.
 */
import { isUtf8 } from 'node:buffer';
import { openChunks, ReusedBuffers } from './fileChunks.js';
import type { RecordBytes, ReadFrom, RecordBatch, SourceRecord } from './types.js';
import { Utf8Marks } from './utf8Marks.js';

export const MAX_CSV_RECORD_BYTES = 4 * 1024 * 1024;

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/** `delimiter`: one ASCII character other than a quote or a line end (csvDialect.ts); a comma unless given. */
type CsvFrom = ReadFrom & { skipHeader: boolean; maxRecordBytes?: number; delimiter?: string };

/** Join buffers kept for reuse, each a chunk and this much of an unread tail in size. */
const JOINS_KEPT = 2;
const JOIN_SPARE_BYTES = 64 << 10;

/** Records decoded: text and fields. */
export function readCsv(from: CsvFrom): AsyncGenerator<RecordBatch>;
/** Records as bytes (framing errors decoded), for the row pipeline's byte path. */
export function readCsv(from: CsvFrom & { decode: false }): AsyncGenerator<RecordBatch<SourceRecord | RecordBytes>>;
export async function* readCsv(from: CsvFrom & { decode?: boolean }): AsyncGenerator<RecordBatch<SourceRecord | RecordBytes>> {
  const maxRecord = from.maxRecordBytes ?? MAX_CSV_RECORD_BYTES;
  const decode = from.decode !== false;
  const delimiter = from.delimiter ?? ',';
  const chunkBytes = from.chunkBytes ?? 1 << 20;
  let data: Buffer = Buffer.alloc(0);
  let base = from.offset; // file offset of data[0]
  let line = from.line; // lines consumed before `pos`
  let pos = 0;
  let headerPending = from.skipHeader;
  let records: (SourceRecord | RecordBytes)[] = [];
  let eof = false;
  const utf8 = new Utf8Marks(!decode);
  // Inside a record already reported as too long whose line end has not come yet: drop bytes
  // until the next physical line end, then read on from there.
  let skipping = false;

  /** Reports the record starting at `start` as bad, and moves to the line after its start. */
  const resync = (start: number, message: string) => {
    const lineEnd = findLineEnd(data, start);
    records.push({ line: line + 1, raw: data.toString('utf8', start, Math.min(lineEnd >= 0 ? lineEnd : data.length, start + 200)), parseError: message });
    line += 1;
    if (lineEnd >= 0) pos = afterLineEnd(data, lineEnd);
    else { pos = data.length; skipping = !eof; }
  };

  // A buffer may be read or joined over once neither the unread tail nor a record waiting to be
  // handed out lies in it (the records handed out before are done with: ReadFrom.reuseBuffers).
  const reuse = from.reuseBuffers
    ? (buffer: ArrayBufferLike) => buffer !== data.buffer && !records.some((r) => r.data?.buffer === buffer)
    : undefined;
  const chunks = await openChunks({ path: from.path, offset: from.offset, chunkBytes, signal: from.signal, reuse, store: from.store });
  const joins = reuse ? new ReusedBuffers(chunkBytes + JOIN_SPARE_BYTES, JOINS_KEPT, reuse) : null;
  /** The unread tail and the next chunk in one buffer: with `reuse`, one of a few kept for it. */
  const join = (tail: Buffer, chunk: Buffer): Buffer => {
    const n = tail.length + chunk.length;
    if (!joins) return Buffer.concat([tail, chunk], n);
    const into = joins.take(n);
    tail.copy(into, 0);
    chunk.copy(into, tail.length);
    return into.subarray(0, n);
  };
  try {
    for (;;) {
      if (skipping) {
        const lineEnd = findLineEnd(data, pos);
        if (lineEnd >= 0 && (lineEnd + 1 < data.length || eof)) { pos = afterLineEnd(data, lineEnd); skipping = false; }
        else pos = lineEnd >= 0 ? lineEnd : data.length; // keep a final CR: its LF may come next
      }
      // Frame every complete record in `data`.
      while (!skipping) {
        if (base + pos === 0 && data.length >= 3 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf) pos = 3;
        const start = pos;
        let i = pos;
        let inQuotes = false;
        let innerLines = 0;
        let end = -1; // index of the terminator
        const len = data.length;
        for (; i < len; i++) {
          const c = data[i];
          if (c > QUOTE) continue; // most bytes: one comparison (LF and CR are below the quote)
          if (c === QUOTE) inQuotes = !inQuotes;
          else if (c === LF || c === CR) {
            if (!inQuotes) { end = i; break; }
            if (c === LF || data[i + 1] !== LF) innerLines++;
          }
        }
        let next: number; // index just past the terminator
        if (end >= 0) {
          if (data[end] === CR && end + 1 >= len && !eof) break; // CR at the end of the buffer: is an LF next?
          next = afterLineEnd(data, end);
        } else if (eof && start < len) {
          if (inQuotes) {
            // A quote opened and never closed: without this, it would swallow the rest of the file.
            // A quote inside an unquoted field opens nothing, though: say so when that is what it is.
            const misplaced = splitRecord(data.toString('utf8', start, len), line + 1, delimiter).parseError;
            resync(start, misplaced?.startsWith('a quote inside') ? misplaced : 'a quote opens here and is never closed');
            continue;
          }
          end = len;
          next = len;
        } else if (len - start > maxRecord) {
          // An unclosed quote (or a giant record): report it and resume at the line after its start.
          resync(start, `the record is longer than ${maxRecord} bytes; is a quote left unclosed?`);
          continue;
        } else break; // need more data

        if (end - start > maxRecord) {
          // The same limit whether the record arrived in one chunk or in many.
          resync(start, `the record is longer than ${maxRecord} bytes; is a quote left unclosed?`);
          continue;
        }
        const recordLine = line + 1;
        line += 1 + innerLines;
        pos = next;
        if (end === start) continue; // blank line
        if (headerPending) { headerPending = false; continue; }
        const record: RecordBytes = { line: recordLine, data, start, end, utf8: false };
        records.push(decode ? decodeCsvRecord(record, delimiter) : record);
        if (records.length >= from.batchSize) {
          utf8.mark(records, data, pos);
          yield { records, endOffset: base + pos, endLine: line };
          records = [];
          utf8.newBatch();
        }
      }
      utf8.mark(records, data, pos);
      if (eof) break;
      const chunk = await chunks.next();
      // Keep only the unread tail; a record is at most maxRecord bytes, so this stays bounded.
      const tail = data.subarray(pos);
      base += pos;
      pos = 0;
      utf8.newBuffer();
      if (!chunk) { eof = true; data = tail; continue; }
      data = tail.length ? join(tail, chunk) : chunk;
    }
  } finally {
    await chunks.close();
  }
  yield { records, endOffset: base + pos, endLine: line };
}

/** A framed record's text and fields. */
export function decodeCsvRecord({ line, data, start, end }: RecordBytes, delimiter = ','): SourceRecord {
  const raw = data.toString('utf8', start, end);
  // U+FFFD in the text: either the file has it, or the bytes were not UTF-8. Only then look.
  if (raw.includes('\uFFFD') && !isUtf8(data.subarray(start, end))) {
    return { line, raw, parseError: 'the record is not valid UTF-8 (save the file as UTF-8)' };
  }
  return splitRecord(raw, line, delimiter);
}

/** Index just past the line end at `at` (CRLF counts as one). */
function afterLineEnd(data: Buffer, at: number): number {
  return data[at] === CR && data[at + 1] === LF ? at + 2 : at + 1;
}

function findLineEnd(data: Buffer, from: number): number {
  for (let i = from; i < data.length; i++) if (data[i] === LF || data[i] === CR) return i;
  return -1;
}

/**
 * Splits one record's text into fields. `clean` says the raw text means exactly the fields to
 * COPY's CSV parser (no quoted empty field, which COPY reads as '' where we read "absent"; and
 * COPY reads commas only).
 */
export function splitRecord(raw: string, line: number, delimiter = ','): SourceRecord {
  const comma = delimiter === ',';
  if (raw.indexOf('"') === -1) return { line, raw, fields: raw.split(delimiter), clean: comma };
  const delimiterCode = delimiter.charCodeAt(0);
  const fields: string[] = [];
  let clean = comma;
  let i = 0;
  const n = raw.length;
  for (;;) {
    if (raw.charCodeAt(i) === QUOTE) {
      let value = '';
      let segment = i + 1;
      let j = segment;
      for (;;) {
        const q = raw.indexOf('"', j);
        if (q === -1) return { line, raw, parseError: `unclosed quote in field ${fields.length + 1}` };
        if (raw.charCodeAt(q + 1) === QUOTE) { value += raw.slice(segment, q + 1); segment = j = q + 2; continue; }
        value += raw.slice(segment, q);
        i = q + 1;
        break;
      }
      if (value === '') clean = false;
      fields.push(value);
      if (i >= n) break;
      if (raw.charCodeAt(i) !== delimiterCode) {
        return { line, raw, parseError: `unexpected text after the closing quote of field ${fields.length}` };
      }
      i++;
    } else {
      const at = raw.indexOf(delimiter, i);
      const stop = at === -1 ? n : at;
      const value = raw.slice(i, stop);
      if (value.indexOf('"') !== -1) {
        return { line, raw, parseError: `a quote inside unquoted field ${fields.length + 1}; quote the whole field and double the quote` };
      }
      fields.push(value);
      if (at === -1) break;
      i = at + 1;
    }
    if (i === n) { fields.push(''); break; }
  }
  return { line, raw, fields, clean };
}
