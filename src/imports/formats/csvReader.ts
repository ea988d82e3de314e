/**
 * CSV through csv-parse, as arrays (objects per row are the slow path). The header is read once
 * at upload (formats/inspect.ts); a resumed read starts at a checkpoint past it, so here every
 * record is data. Structural errors (a stray quote) skip that record as a row error and go on.
 */
import fs from 'node:fs';
import { parse } from 'csv-parse';
import type { ReadFrom, RecordBatch, SourceRecord } from './types.js';

/** A longer record is an error, not a reason to read the rest of the file into memory. */
export const MAX_CSV_RECORD_BYTES = 16 * 1024 * 1024;

interface Parsed { record: string[]; raw: string; info: { bytes: number; lines: number } }

export async function* readCsv(from: ReadFrom & { skipHeader: boolean }): AsyncGenerator<RecordBatch> {
  const parser = fs.createReadStream(from.path, { start: from.offset, highWaterMark: 1 << 20, signal: from.signal }).pipe(parse({
    bom: true,
    raw: true,
    info: true,
    relax_column_count: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: MAX_CSV_RECORD_BYTES,
  }));
  const skipped: SourceRecord[] = [];
  parser.on('skip', (err: Error & { lines?: number; raw?: string }) => {
    skipped.push({ line: from.line + (err.lines ?? 0), raw: err.raw ?? '', parseError: err.message });
  });

  let records: SourceRecord[] = [];
  let endOffset = from.offset;
  let endLine = from.line;
  let headerPending = from.skipHeader;
  for await (const { record, raw, info } of parser as AsyncIterable<Parsed>) {
    if (skipped.length) records.push(...skipped.splice(0));
    endOffset = from.offset + info.bytes;
    endLine = from.line + info.lines;
    if (headerPending) { headerPending = false; continue; }
    records.push({ line: endLine, raw: raw.replace(/\r?\n$|\r$/, ''), fields: record });
    if (records.length >= from.batchSize) {
      yield { records, endOffset, endLine };
      records = [];
    }
  }
  if (skipped.length) records.push(...skipped.splice(0));
  const { size } = await fs.promises.stat(from.path);
  // Trailing blank lines or a final skipped record still move the checkpoint to the end of the file.
  yield { records, endOffset: Math.max(endOffset, size), endLine };
}
