/**
 * exceljs' streaming workbook reader, with its unzipping bounded. A workbook is a zip archive, and
 * what its parts inflate to is not what was sent: a few MiB of .xlsx can hold a sheet (or shared
 * strings, or any other part) of gigabytes. exceljs' own reader inflates every part with no bound,
 * and writes the sheets that come before the shared strings (Excel writes them so) to temporary
 * files that nothing removes until the process exits. So the archive is walked here instead, with
 * exceljs' own parsers for each part (WorkbookReader's `_parse*` methods, exceljs 4.4.0, pinned):
 * - every part's inflated bytes, read or skipped, count against one budget (MAX_UNCOMPRESSED_SIZE):
 *   past it, FILE_TOO_LARGE at once, with a few chunks in memory and on disk;
 * - the shared strings (every distinct text of the workbook) are the one part held in memory, for
 *   the sheets to look their cells up in: about twice their XML's size (measured: 256 MiB of
 *   strings' XML took the process from 113 to 577 MiB RSS), so they have a bound of their own
 *   (MAX_XLSX_SHARED_STRINGS), far below what a 4 GiB MAX_UNCOMPRESSED_SIZE would let them hold;
 * - a sheet that has to wait for the shared strings waits in a scratch file of its upload, in the
 *   spool's folder (spool/scratchFiles.ts): within the same budget, and its bytes take room from
 *   the upload's reservation before they are written (past SPOOL_MAX_BYTES, SPOOL_FULL at once, as
 *   for a full spool); removed when the workbook has been read or refused. The disk itself
 *   failing under it (full before SPOOL_MAX_BYTES is reached) is the server's (spool/diskFailure.ts).
 * A sheet is parsed only once the workbook's relationships and sheet list are known, so a sheet
 * is named whatever order the parts come in.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import ExcelJS from 'exceljs';
import unzipper, { type Entry } from 'unzipper';
import { FileRefusal, SPOOL_FULL_MESSAGE } from '../spool/spool.js';
import { onDisk } from '../spool/diskFailure.js';
import type { Scratch } from '../spool/sharedRoom.js';

/** A sheet as exceljs' reader gives it: its rows, as they are parsed. */
export interface SheetReader extends AsyncIterable<ExcelJS.Row> { name?: string; id?: number | string }

/** What exceljs' WorkbookReader keeps and the parsers of its parts, used as they are. */
interface BookParts {
  sharedStrings?: unknown[];
  workbookRels?: unknown;
  model?: { sheets?: { name: string }[] };
  _parseRels(entry: Readable): Promise<void>;
  _parseWorkbook(entry: Readable): Promise<void>;
  _parseSharedStrings(entry: Readable): AsyncGenerator<unknown>;
  _parseStyles(entry: Readable): Promise<void>;
  _parseWorksheet(rows: AsyncIterable<Buffer>, sheetNo: string): Generator<{ eventType: string; value: SheetReader }>;
}

export const unzippedTooLargeMessage = (max: number) =>
  `Unzipped, the workbook is larger than the limit of ${max} bytes (MAX_UNCOMPRESSED_SIZE)`;

export const sharedStringsTooLargeMessage = (max: number) =>
  `Unzipped, the workbook's shared strings (its texts, held in memory while the sheet is read) are larger than the limit of ${max} bytes (MAX_XLSX_SHARED_STRINGS); save the sheet as CSV UTF-8 and send that`;

export interface WorkbookLimits {
  /** All parts together (MAX_UNCOMPRESSED_SIZE). */
  maxUnzipped: number;
  /** The shared strings part (MAX_XLSX_SHARED_STRINGS). */
  maxSharedStrings: number;
}

export interface Workbook {
  /** The workbook's sheets in tab order, once its workbook part has been read. */
  sheetNames(): string[] | undefined;
  /** Each sheet of the archive as it comes; one not read is skipped (its bytes still count). */
  sheets: AsyncGenerator<SheetReader>;
}

const SHEET_PART = /^xl\/worksheets\/sheet(\d+)\.xml$/;

/** `scratch`: where a sheet that waits for the shared strings is kept, and the room it takes. */
export function readWorkbook(source: AsyncIterable<Buffer>, limits: WorkbookLimits, scratch: Scratch): Workbook {
  const book = new ExcelJS.stream.xlsx.WorkbookReader(Readable.from([]), {
    sharedStrings: 'cache', styles: 'cache', hyperlinks: 'ignore', worksheets: 'emit', entries: 'ignore',
  }) as unknown as BookParts;
  return { sheetNames: () => book.model?.sheets?.map((s) => s.name), sheets: sheetsOf(book, source, limits, scratch) };
}

async function* sheetsOf(book: BookParts, source: AsyncIterable<Buffer>, limits: WorkbookLimits, scratch: Scratch): AsyncGenerator<SheetReader> {
  const input = Readable.from(source, { objectMode: false });
  const zip = unzipper.Parse({ forceStream: true });
  // The upload's own refusals (MAX_FILE_SIZE, a broken connection) end the walk with their error.
  pipeline(input, zip, () => {});
  const budget = new Budget(limits.maxUnzipped);
  const waiting: { sheetNo: string; file: string }[] = [];
  const scratchRoom = new ScratchRoom(scratch);
  // unzipper leaves the entry being read open when the archive's stream fails (the client gone
  // mid-part): whatever waits on that entry (a sheet being written to its scratch file) would wait
  // for good, holding the upload's room and its files. It fails with the archive.
  let current: Entry | null = null;
  zip.on('error', (err: Error) => current?.destroy(err));
  try {
    for await (const entry of entriesOf(zip)) {
      current = entry;
      const strings = entry.path === 'xl/sharedStrings.xml';
      const part = budget.count(entry, (err) => zip.destroy(err), strings ? { max: limits.maxSharedStrings, message: sharedStringsTooLargeMessage } : null);
      const sheet = SHEET_PART.exec(entry.path)?.[1];
      if (entry.path === 'xl/_rels/workbook.xml.rels') await book._parseRels(part);
      else if (entry.path === 'xl/workbook.xml') await book._parseWorkbook(part);
      else if (entry.path === 'xl/styles.xml') await book._parseStyles(part);
      else if (strings) { for await (const _ of book._parseSharedStrings(part)); }
      else if (sheet !== undefined && book.sharedStrings && book.workbookRels && book.model) {
        yield* sheetReaders(book, part, sheet);
      } else if (sheet !== undefined) {
        // Numbered in the order they wait, not by the archive's part name: its digits are the
        // client's, as many as it likes (a name too long for the disk was answered with the path).
        const file = scratch.file(`sheet${waiting.length + 1}`);
        // an S3 spool's local folder may not be there yet
        await onDisk(path.dirname(file), () => fsp.mkdir(path.dirname(file), { recursive: true }));
        waiting.push({ sheetNo: sheet, file }); // removed in the end, whatever became of it
        // The disk full under it is the server's (ServerDiskError), not a damaged workbook.
        await onDisk(file, () => pipelineAsync(part, scratchRoom.counted(), fs.createWriteStream(file)));
      }
      // Whatever was not read of it (a part not wanted, a sheet passed over) is inflated and counted all the same.
      part.resume();
      await budget.settled(part);
    }
    budget.check();
    if (waiting.length > 0 && !book.model) throw new FileRefusal('INVALID_FILE', 'The workbook has no xl/workbook.xml: it is not an .xlsx file, or it is damaged');
    for (const { sheetNo, file } of waiting) {
      const rows = fs.createReadStream(file);
      try {
        yield* sheetReaders(book, rows, sheetNo);
      } finally {
        rows.destroy(); // a sheet passed over is never read: its file is closed all the same
      }
    }
  } finally {
    input.destroy();
    zip.destroy();
    // A disk gone read-only keeps them: the sweep's, once it is writable again.
    for (const { file } of waiting) await fsp.rm(file, { force: true }).catch(() => {});
    scratch.release();
  }
}

function* sheetReaders(book: BookParts, rows: Readable, sheetNo: string): Generator<SheetReader> {
  for (const { eventType, value } of book._parseWorksheet(rows, sheetNo)) if (eventType === 'worksheet') yield value;
}

/**
 * The archive's entries, one at a time: the next is asked for only once the one before has been
 * read to its end (unzipper goes on only then). unzipper also emits an 'end' of its own as soon as
 * all the bytes have been written to it, while it may still be parsing the last entries from them
 * (exceljs' reader takes that for the end, and now and then lost the workbook part that comes
 * last: "Cannot read properties of undefined (reading 'sheets')"); only the readable side's own
 * end, once the end of the central directory has been read, is the archive's.
 */
async function* entriesOf(zip: Readable): AsyncGenerator<Entry> {
  const queue: Entry[] = [];
  let ended = false;
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const poke = () => { const w = wake; wake = null; w?.(); };
  zip.on('data', (entry: Entry) => { queue.push(entry); zip.pause(); poke(); });
  zip.on('end', () => { if (zip.readableEnded) { ended = true; poke(); } });
  zip.on('error', (err: Error) => { failure ??= err; poke(); });
  for (;;) {
    if (failure) throw failure;
    if (queue.length > 0) { yield queue.shift()!; continue; }
    if (ended) return;
    const woken = new Promise<void>((resolve) => { wake = resolve; });
    zip.resume();
    await woken;
  }
}

/** The inflated bytes of all the archive's parts together, against MAX_UNCOMPRESSED_SIZE. */
class Budget {
  private used = 0;
  private refusal: FileRefusal | null = null;
  constructor(private readonly max: number) {}

  /**
   * The entry's bytes as they are inflated, counted; past the budget (or the part's own limit),
   * the stream fails (and `fail` is told).
   */
  count(entry: Entry, fail: (err: Error) => void, own: { max: number; message: (max: number) => string } | null): Readable {
    let partBytes = 0;
    const counter = new Transform({
      transform: (chunk: Buffer, _encoding: string, done: TransformCallback) => {
        this.used += chunk.length;
        partBytes += chunk.length;
        if (this.used > this.max || (own && partBytes > own.max)) {
          this.refusal ??= new FileRefusal('FILE_TOO_LARGE', own && partBytes > own.max ? own.message(own.max) : unzippedTooLargeMessage(this.max));
          done(this.refusal);
          return;
        }
        done(null, chunk);
      },
    });
    pipeline(entry, counter, (err) => { if (err) fail(this.refusal ?? err); });
    return counter;
  }

  /** Waits until the part has been read to its end, or has failed. */
  async settled(part: Readable): Promise<void> {
    if (!part.readableEnded && !part.destroyed) {
      await new Promise<void>((resolve) => { part.once('end', resolve); part.once('close', resolve); part.once('error', () => resolve()); });
    }
    this.check();
  }

  check(): void {
    if (this.refusal) throw this.refusal;
  }
}

/** The bytes of the sheets that wait, all together, in room taken from the upload's reservation before they are written. */
class ScratchRoom {
  private written = 0;
  constructor(private readonly scratch: Scratch) {}

  /** A stream that passes a sheet's bytes on once the spool has room for them; else fails with SPOOL_FULL. */
  counted(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _encoding: string, done: TransformCallback) => {
        this.written += chunk.length;
        this.scratch.hold(this.written).then(
          (granted) => done(granted ? null : new FileRefusal('SPOOL_FULL', SPOOL_FULL_MESSAGE), granted ? chunk : undefined),
          (err: Error) => done(err),
        );
      },
    });
  }
}
