/** job_errors: the rows of a job that failed, with line, column, value, message and the row as sent. */
import { and, asc, count, eq, inArray, sql } from 'drizzle-orm';
import type { Database, Transaction } from '../db/database.js';
import { jobErrors } from '../db/schema.js';
import { csvCell, withoutNul } from '../codecs/copyCsv.js';
import type { RowError } from '../kinds/types.js';

const ERROR_COLUMNS = ['job_id', 'line', 'column', 'value', 'message', 'raw_row'] as const;

/**
 * COPY data goes to the database in pieces of about this many characters, so that a batch of
 * large failed rows never has to become one string (V8 caps a string near 512 MiB).
 */
const COPY_PIECE_CHARS = 8 * 1024 * 1024;

/**
 * Adds a batch's row errors, in its transaction. A row with several errors keeps its text once,
 * with the first of them (raw_row is NULL on the others, which follow it in id order): a failed
 * row costs about its own size in storage, not its size times its number of bad cells. The
 * report (reports/errorReport.ts) shows the row again on each of its errors.
 */
export async function insertRowErrors(tx: Transaction, jobId: string, errors: readonly (RowError & { rawRow: string })[]): Promise<void> {
  let piece = '';
  let previousLine: number | undefined;
  for (const e of errors) {
    const rawRow = e.line === previousLine ? null : e.rawRow;
    previousLine = e.line;
    const cells = [e.column, e.value, e.message, rawRow].map((v) => csvCell(withoutNul(v)));
    piece += `${jobId},${e.line},${cells.join(',')}\n`;
    if (piece.length >= COPY_PIECE_CHARS) {
      await tx.copy('job_errors', ERROR_COLUMNS, piece);
      piece = '';
    }
  }
  if (piece) await tx.copy('job_errors', ERROR_COLUMNS, piece);
}

/**
 * A row error as listed: without the row's text, which may be megabytes (rawRowsOf reads it),
 * but with its size in bytes (null when the row's text is kept with an earlier error of its line).
 */
export interface JobError {
  id: number;
  jobId: string;
  line: number;
  column: string | null;
  value: string | null;
  message: string;
  rawBytes: number | null;
}

/**
 * A job's row errors in line order, then in the order they were found; the caller has already
 * checked the job's tenant. Ids alone are not in line order: a roster batch stores its rows'
 * validation errors before the errors its upsert finds against the database. The keyset is
 * (line, id) after the row `afterId` (the cursor stays one number), on job_errors_job_line_idx.
 */
export async function listJobErrors(db: Database, jobId: string, page: { afterId?: number; limit: number }): Promise<JobError[]> {
  const where = [eq(jobErrors.jobId, jobId)];
  if (page.afterId !== undefined) {
    where.push(sql`(${jobErrors.line}, ${jobErrors.id}) > (select e.line, e.id from ${jobErrors} e where e.id = ${page.afterId} and e.job_id = ${jobId})`);
  }
  return db.orm.select({
    id: jobErrors.id, jobId: jobErrors.jobId, line: jobErrors.line, column: jobErrors.column, value: jobErrors.value,
    message: jobErrors.message, rawBytes: sql<number | null>`octet_length(${jobErrors.rawRow})`.mapWith(Number),
  }).from(jobErrors).where(and(...where)).orderBy(asc(jobErrors.line), asc(jobErrors.id)).limit(page.limit);
}

/** The row texts kept with these errors of the job, by error id. */
export async function rawRowsOf(db: Database, jobId: string, ids: readonly number[]): Promise<Map<number, string | null>> {
  if (ids.length === 0) return new Map();
  const rows = await db.orm.select({ id: jobErrors.id, rawRow: jobErrors.rawRow }).from(jobErrors)
    .where(and(eq(jobErrors.jobId, jobId), inArray(jobErrors.id, [...ids])));
  return new Map(rows.map((r) => [r.id, r.rawRow]));
}

export async function countJobErrors(db: Database, jobId: string): Promise<number> {
  const [row] = await db.orm.select({ n: count() }).from(jobErrors).where(eq(jobErrors.jobId, jobId));
  return Number(row.n);
}
