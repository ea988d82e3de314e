/**
 * Reverting an import of an appended kind (EVENTS, USER_EVENTS, COLLECTION): its rows are the
 * table's rows with its job_id, which it wrote and nothing else changes, so undoing them is
 * deleting them. They go in ranges of the table's id: the primary key finds each range at once,
 * where the (tenant_id, job_id) BRIN index would scan all of the import's blocks for every batch.
 * The cursor is the last id undone; a dry run counts the same ranges.
 */
import type { Database, Transaction } from '../db/database.js';
import { getKind } from '../kinds/index.js';
import type { RevertContext, UndoStep } from './revertSteps.js';

export async function appendedRowsUndo(db: Database, { revert, original, batchSize }: RevertContext): Promise<UndoStep> {
  const table = getKind(original.kind).table;
  // The import's first and last ids, found once (a BRIN scan); the ranges in between may hold
  // other jobs' rows too, which the job_id condition leaves alone.
  const [bounds] = await db.query<{ first: string | null; last: string | null }>(
    `select min(id)::text as first, max(id)::text as last from "${table}" where tenant_id = $1 and job_id = $2`,
    [original.tenantId, original.id],
  );
  const first = bounds.first === null ? null : Number(bounds.first);
  const last = Number(bounds.last);
  return async (tx: Transaction, cursor: number) => {
    if (first === null) return null;
    const from = Math.max(cursor, first - 1);
    if (from >= last) return null;
    const to = Math.min(from + batchSize, last);
    const [{ n }] = await tx.query<{ n: number }>(
      revert.dryRun
        ? `select count(*)::int as n from "${table}" where id > $1 and id <= $2 and tenant_id = $3 and job_id = $4`
        : `with gone as (delete from "${table}" where id > $1 and id <= $2 and tenant_id = $3 and job_id = $4 returning 1)
           select count(*)::int as n from gone`,
      [from, to, original.tenantId, original.id],
    );
    return { cursor: to, processed: n, undone: n, restored: 0, unchanged: 0, errors: [] };
  };
}
