/** job_errors: the rows of a job that failed, with line, column, value, message and the row as sent. */
import type { Transaction } from '../db/database.js';
import { csvCell, withoutNul } from '../codecs/copyCsv.js';
import type { RowError } from '../kinds/types.js';

const ERROR_COLUMNS = ['job_id', 'line', 'column', 'value', 'message', 'raw_row'] as const;

/** Adds a batch's row errors, in its transaction. */
export async function insertRowErrors(tx: Transaction, jobId: string, errors: readonly (RowError & { rawRow: string })[]): Promise<void> {
  await tx.copy('job_errors', ERROR_COLUMNS, errorsCsv(jobId, errors));
}

function errorsCsv(jobId: string, errors: readonly (RowError & { rawRow: string })[]): string {
  let out = '';
  for (const e of errors) {
    const cells = [e.column, e.value, e.message, e.rawRow].map((v) => csvCell(withoutNul(v)));
    out += `${jobId},${e.line},${cells.join(',')}\n`;
  }
  return out;
}
