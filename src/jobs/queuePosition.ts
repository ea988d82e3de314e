/**
 * Job.queuePosition: where a queued job stands in the claim order (jobs/claimOrder.ts), 1 being
 * the next job a free runner takes. The whole queue is ranked: a queue holds few jobs (each
 * tenant may have MAX_ACTIVE_JOBS_PER_TENANT), and the rank depends on every tenant's turn.
 */
import type { SqlExecutor } from '../db/database.js';
import { CLAIM_ORDER } from './claimOrder.js';

/** The job's place in the queue, or null when it is not queued. */
export async function queuePosition(db: SqlExecutor, jobId: string): Promise<number | null> {
  const [row] = await db.query<{ position: number }>(
    `select position from (
       select j.id, row_number() over (order by ${CLAIM_ORDER})::int as position
       from import_jobs j where j.status = 'QUEUED') queue
     where id = $1`,
    [jobId],
  );
  return row?.position ?? null;
}
