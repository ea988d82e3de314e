/**
 * A job's error report: its failed rows as CSV (line, column, value, message, the original row),
 * streamed page by page so a job with millions of failed rows costs constant memory.
 */
import type { Database } from '../db/database.js';
import { csvCell } from '../codecs/copyCsv.js';
import { listJobErrors, rawRowsOf, type JobError } from '../jobs/rowErrors.js';

/**
 * A cell a spreadsheet could run as a formula (OWASP, CSV injection): one that starts with
 * = + - @, a tab or a carriage return, also after leading spaces or invisible characters (NBSP,
 * zero-width space, BOM, other space, control and format characters), which spreadsheets skip
 * or the eye misses.
 */
const FORMULA = /^[\s\p{Z}\p{Cc}\p{Cf}]*[=+\-@\t\r]/u;

/**
 * A plain decimal number with a sign (-5, +3.2, -1e5, +.5) opens like a formula but can run
 * nothing: it is left as it is, so spreadsheets read it as the number it is. Nothing else
 * qualifies: no space or invisible character around it, no thousands separator, no hex, no Infinity.
 */
const PLAIN_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A CSV cell that spreadsheets open as text: a formula-like value gets a leading apostrophe. */
export function spreadsheetCell(value: string | null | undefined): string {
  if (value == null) return '';
  return csvCell(FORMULA.test(value) && !PLAIN_NUMBER.test(value) ? `'${value}` : value);
}

const PAGE = 1000;
/** Row texts are read in groups of about this many bytes: a page of large failed rows is never in memory at once. */
const RAW_GROUP_BYTES = 8 * 1024 * 1024;

/** The page's errors in groups whose kept row texts add up to about RAW_GROUP_BYTES at most (one larger row is a group of its own). */
function rawGroups(page: readonly JobError[]): JobError[][] {
  const groups: JobError[][] = [];
  let group: JobError[] = [];
  let bytes = 0;
  for (const e of page) {
    if (group.length > 0 && bytes + (e.rawBytes ?? 0) > RAW_GROUP_BYTES) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(e);
    bytes += e.rawBytes ?? 0;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

export async function* errorReportLines(db: Database, jobId: string): AsyncGenerator<string> {
  yield 'line,column,value,message,row\r\n';
  let afterId: number | undefined;
  // A row with several errors has its text kept with the first of them (jobs/rowErrors.ts); the
  // others, which follow it, show it again.
  let previous = { line: -1, rawRow: null as string | null };
  for (;;) {
    const page = await listJobErrors(db, jobId, { afterId, limit: PAGE });
    if (page.length === 0) return;
    for (const group of rawGroups(page)) {
      const raws = await rawRowsOf(db, jobId, group.filter((e) => e.rawBytes !== null).map((e) => e.id));
      let chunk = '';
      for (const e of group) {
        const rawRow = raws.get(e.id) ?? (e.line === previous.line ? previous.rawRow : null);
        previous = { line: e.line, rawRow };
        chunk += `${e.line},${spreadsheetCell(e.column)},${spreadsheetCell(e.value)},${spreadsheetCell(e.message)},${spreadsheetCell(rawRow)}\r\n`;
      }
      yield chunk;
    }
    if (page.length < PAGE) return;
    afterId = page[page.length - 1].id;
  }
}
