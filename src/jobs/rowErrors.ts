/** job_errors: the rows of a job that failed, with line, column, value, message and the row as sent. */
import { and, asc, count, eq, sql } from 'drizzle-orm';
import type { Database, Transaction } from '../db/database.js';
import { jobErrors } from '../db/schema.js';
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

export type JobError = typeof jobErrors.$inferSelect;

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
  return db.orm.select().from(jobErrors).where(and(...where)).orderBy(asc(jobErrors.line), asc(jobErrors.id)).limit(page.limit);
}

export async function countJobErrors(db: Database, jobId: string): Promise<number> {
  const [row] = await db.orm.select({ n: count() }).from(jobErrors).where(eq(jobErrors.jobId, jobId));
  return Number(row.n);
}
