/**
 * The row-error report as CSV, built in the browser from the API (Job.errors). A cell that a
 * spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage return) gets a
 * leading single quote, as the CLI's `errors --csv` does.
 */

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value) {
  let text = value === null || value === undefined ? '' : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `errors`: [{ line, column, value, message }] -> CSV text with a header line, CRLF-free. */
export function errorsCsv(errors) {
  const lines = ['line,column,value,message'];
  for (const e of errors) lines.push([e.line, e.column, e.value, e.message].map(csvCell).join(','));
  return `${lines.join('\n')}\n`;
}
