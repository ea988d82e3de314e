/**
 * job_outcomes: what each row of a roster job did (created, updated or left unchanged which
 * record), by line; an update with its changes and the job and line that had written the record
 * before it (what revertJob puts back).
 */
import type { Database, SqlExecutor, Transaction } from '../db/database.js';

/** One value an update changed: its table column, the value it replaced and the one it wrote (as text). */
export interface FieldChange { column: string; from: string | null; to: string | null }

export type RowOutcome = 'created' | 'updated' | 'unchanged';

const COLUMNS = ['job_id', 'line', 'outcome', 'record_id', 'changes', 'previous_job_id', 'previous_line'];

/**
 * Adds a batch's outcomes, as COPY CSV text (job_id, line, outcome, record_id, changes as JSON,
 * previous_job_id, previous_line), in its transaction.
 */
export async function insertRowOutcomes(tx: Transaction, csv: string): Promise<void> {
  await tx.copy('job_outcomes', COLUMNS, csv);
}

export interface JobOutcome {
  line: number;
  outcome: RowOutcome;
  recordId: string;
  changes: FieldChange[] | null;
  previousJobId: string | null;
  previousLine: number | null;
}

interface OutcomeRow {
  line: string | number; outcome: RowOutcome; record_id: string; changes: FieldChange[] | string | null;
  previous_job_id: string | null; previous_line: string | number | null;
}

const SELECT = 'select line, outcome, record_id::text as record_id, changes, previous_job_id::text as previous_job_id, previous_line from job_outcomes';

function toOutcome(r: OutcomeRow): JobOutcome {
  return {
    line: Number(r.line), outcome: r.outcome, recordId: r.record_id,
    changes: typeof r.changes === 'string' ? JSON.parse(r.changes) : r.changes,
    previousJobId: r.previous_job_id, previousLine: r.previous_line === null ? null : Number(r.previous_line),
  };
}

/** What each row of a roster job did, in line order, after the line `afterLine`. */
export async function listJobOutcomes(db: Database, jobId: string, page: { afterLine?: number; limit: number }): Promise<JobOutcome[]> {
  const rows = await db.query<OutcomeRow>(`${SELECT} where job_id = $1 and line > $2 order by line limit $3`, [jobId, page.afterLine ?? 0, page.limit]);
  return rows.map(toOutcome);
}

/** The outcomes before the line `beforeLine`, last line first: the order in which revertJob undoes them. */
export async function listJobOutcomesBackwards(db: SqlExecutor, jobId: string, page: { beforeLine: number; limit: number }): Promise<JobOutcome[]> {
  const rows = await db.query<OutcomeRow>(`${SELECT} where job_id = $1 and line < $2 order by line desc limit $3`, [jobId, page.beforeLine, page.limit]);
  return rows.map(toOutcome);
}

export async function countJobOutcomes(db: Database, jobId: string): Promise<number> {
  const [row] = await db.query<{ n: number }>('select count(*)::int as n from job_outcomes where job_id = $1', [jobId]);
  return row.n;
}
