/** job_outcomes: what each row of a roster job did (created or updated which record), by line. */
import type { Database, Transaction } from '../db/database.js';

/** Adds a batch's outcomes, as COPY CSV text (job_id, line, outcome, record_id), in its transaction. */
export async function insertRowOutcomes(tx: Transaction, csv: string): Promise<void> {
  await tx.copy('job_outcomes', ['job_id', 'line', 'outcome', 'record_id'], csv);
}

export interface JobOutcome { line: number; outcome: 'created' | 'updated'; recordId: string }

/** What each row of a roster job did, in line order, after the line `afterLine`. */
export async function listJobOutcomes(db: Database, jobId: string, page: { afterLine?: number; limit: number }): Promise<JobOutcome[]> {
  const rows = await db.query<{ line: string | number; outcome: 'created' | 'updated'; record_id: string }>(
    `select line, outcome, record_id from job_outcomes where job_id = $1 and line > $2 order by line limit $3`,
    [jobId, page.afterLine ?? 0, page.limit],
  );
  return rows.map((r) => ({ line: Number(r.line), outcome: r.outcome, recordId: r.record_id }));
}

export async function countJobOutcomes(db: Database, jobId: string): Promise<number> {
  const [row] = await db.query<{ n: number }>('select count(*)::int as n from job_outcomes where job_id = $1', [jobId]);
  return row.n;
}
