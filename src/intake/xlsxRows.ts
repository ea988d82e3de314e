/**
 * An XLSX workbook read as it arrives (exceljs' streaming WorkbookReader), written out as NDJSON
 * the existing readers import: one sheet (the first, or the one named), its first row with a value
 * the header, every later row one object of the header's names and the cells as text. Each sheet
 * row is the NDJSON line of the same number (blank lines stand for the header and for empty or
 * missing rows), so row errors name the row Excel shows, and a cell with line breaks still takes
 * one line (JSON escapes them). Cells become text as the sheet shows them: dates in ISO 8601 (date and time),
 * numbers to Excel's 15 significant digits (no binary float noise), formulas as their cached value.
 */
import type ExcelJS from 'exceljs';
import { FileRefusal, UploadStreamError } from '../spool/spool.js';
import { isTransientDatabaseError } from '../db/transientErrors.js';
import { isDiskFailure } from '../spool/diskFailure.js';
import type { Scratch } from '../spool/sharedRoom.js';
import type { SheetReader, Workbook, WorkbookLimits } from './xlsxWorkbook.js';

/**
 * The NDJSON text of a workbook's sheet (`sheet`, or the first one). What the workbook's parts
 * unzip to counts against `limits` (xlsxWorkbook.ts), the NDJSON made of them against
 * MAX_UNCOMPRESSED_SIZE where it is spooled; a sheet that waits is kept in `scratch`.
 */
export async function* xlsxToNdjson(source: AsyncIterable<Buffer>, sheet: string | null, limits: WorkbookLimits, scratch: Scratch): AsyncGenerator<Buffer> {
  // Loaded with the first workbook: exceljs and its unzipper are memory a server that never sees
  // one would otherwise carry from its start (docs/performance.md).
  const { readWorkbook } = await import('./xlsxWorkbook.js');
  const book = readWorkbook(source, limits, scratch);
  const seen: string[] = [];
  let done = false;
  try {
    for await (const ws of book.sheets) {
      if (ws.name) seen.push(ws.name);
      // Every sheet is passed over (the ones not read are drained), so the upload is read to its end.
      if (done || !isWanted(ws, sheet, book)) continue;
      done = true;
      yield* sheetRows(ws);
    }
  } catch (err) {
    if (err instanceof FileRefusal || !isTheWorkbooks(err)) throw err;
    throw new FileRefusal('INVALID_FILE', `The workbook cannot be read (not an .xlsx file, or damaged): ${(err as Error).message}`);
  }
  if (!done) {
    throw new FileRefusal('INVALID_FILE', sheet === null ? 'The workbook has no sheet' : `The workbook has no sheet named "${sheet}"; its sheets: ${seen.map((s) => `"${s}"`).join(', ')}`);
  }
}

/**
 * Whether a failure while reading the workbook is the workbook's: not the upload breaking off, nor
 * the database away (a waiting sheet asks it for spool room), nor the server's disk failing under
 * a waiting sheet's scratch file, which are answered as such (400, 503), not as a damaged file.
 */
function isTheWorkbooks(err: unknown): boolean {
  return !(err instanceof UploadStreamError || isDiskFailure(err) || isTransientDatabaseError(err));
}

function isWanted(ws: SheetReader, sheet: string | null, book: Workbook): boolean {
  if (sheet === null) {
    const first = book.sheetNames()?.[0];
    return first === undefined || ws.name === first;
  }
  return ws.name === sheet || ws.name?.trim().toLowerCase() === sheet.trim().toLowerCase();
}

async function* sheetRows(ws: SheetReader): AsyncGenerator<Buffer> {
  let header: string[] | null = null;
  let lastRow = 0; // the last row written, as a line
  const lines: string[] = [];
  const flush = () => {
    const out = Buffer.from(lines.join(''), 'utf8');
    lines.length = 0;
    return out;
  };
  for await (const row of ws) {
    const cells: string[] = [];
    row.eachCell({ includeEmpty: false }, (cell, col) => { cells[col - 1] = cellText(cell); });
    // Lines for the rows between (empty rows are not in the file), and for this one if it stays blank.
    lines.push('\n'.repeat(Math.max(0, row.number - lastRow - 1)));
    lastRow = row.number;
    const hasValue = cells.some((c) => c !== undefined && c !== '');
    if (!hasValue) { lines.push('\n'); continue; }
    if (!header) {
      header = Array.from(cells, (c, i) => (c ?? '').trim() || `column ${columnLetters(i + 1)}`);
      lines.push('\n');
      continue;
    }
    const width = Math.max(header.length, cells.length);
    const members: string[] = [];
    for (let i = 0; i < width; i++) {
      const name = header[i] ?? `column ${columnLetters(i + 1)}`;
      members.push(`${JSON.stringify(name)}:${JSON.stringify(cells[i] ?? '')}`);
    }
    lines.push(`{${members.join(',')}}\n`);
    if (lines.length >= 500) yield flush();
  }
  if (lines.length > 0) yield flush();
}

function columnLetters(n: number): string {
  let s = '';
  for (; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

/** A cell's value as text, as the sheet shows it (see the header). */
function cellText(cell: ExcelJS.Cell): string {
  const value = cell.value as unknown;
  return valueText(value, cell.numFmt);
}

function valueText(value: unknown, numFmt: string | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return isDateFormat(numFmt) ? dateText(excelDate(value)) : numberText(value);
  if (value instanceof Date) return dateText(value);
  if (typeof value === 'object') {
    const v = value as { result?: unknown; formula?: unknown; sharedFormula?: unknown; richText?: { text: string }[]; text?: unknown; error?: unknown };
    if ('formula' in v || 'sharedFormula' in v) return valueText(v.result, numFmt);
    if (Array.isArray(v.richText)) return v.richText.map((r) => r.text ?? '').join('');
    if (v.text !== undefined) return valueText(v.text, numFmt);
    if (typeof v.error === 'string') return v.error;
  }
  return String(value);
}

/** Excel shows at most 15 significant digits; the binary double's further digits are noise (0.1 + 0.2). */
function numberText(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  return String(Number(n.toPrecision(15)));
}

/** A number format that shows a date or a time: d, m, y, h or s outside quoted text and [colour] tags. */
function isDateFormat(numFmt: string | undefined): boolean {
  if (!numFmt || numFmt === 'General') return false;
  return /[dmyhs]/i.test(numFmt.replace(/"[^"]*"|\[[^\]]*\]|\\./g, ''));
}

/** An Excel serial date (days since 1899-12-30, the 1900 system) as the UTC instant exceljs uses. */
function excelDate(serial: number): Date {
  return new Date(Math.round((serial - 25569) * 86_400_000));
}

/**
 * Date and time, without a zone (Excel's cells have none; the kinds read such a timestamp as UTC).
 * A date alone gets midnight: every date column of the kinds is a timestamp.
 */
function dateText(d: Date): string {
  const iso = d.toISOString();
  return d.getUTCMilliseconds() === 0 ? iso.slice(0, 19) : iso.slice(0, 23);
}
