/**
 * A job's error report: its failed rows as CSV (line, column, value, message, the original row),
 * streamed page by page so a job with millions of failed rows costs constant memory.
 */
import type { Database } from '../db/database.js';
import { csvCell } from '../codecs/copyCsv.js';
import { listJobErrors } from '../jobs/jobStore.js';

/**
 * A cell that spreadsheets would run as a formula (it starts with = + - @, tab or CR) gets a
 * leading apostrophe, as csv-stringify's `escape_formulas` does.
 */
export function spreadsheetCell(value: string | null | undefined): string {
  if (value == null) return '';
  return csvCell(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
}

const PAGE = 1000;

export async function* errorReportLines(db: Database, jobId: string): AsyncGenerator<string> {
  yield 'line,column,value,message,row\r\n';
  let afterId: number | undefined;
  for (;;) {
    const page = await listJobErrors(db, jobId, { afterId, limit: PAGE });
    if (page.length === 0) return;
    let chunk = '';
    for (const e of page) {
      chunk += `${e.line},${spreadsheetCell(e.column)},${spreadsheetCell(e.value)},${spreadsheetCell(e.message)},${spreadsheetCell(e.rawRow)}\r\n`;
    }
    yield chunk;
    if (page.length < PAGE) return;
    afterId = page[page.length - 1].id;
  }
}
