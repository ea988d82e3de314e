/**
 * The outbox of job ends (job_endings). A row goes in with the very statement that sets the job's
 * terminal state (`endJobSql`), so an end that committed is never lost and one that rolled back
 * is never announced; NOTIFY job_ended (sent on commit) wakes whoever delivers them. Consumers
 * take rows with `takeJobEndings` inside their own transaction, which deletes them: each end is
 * handed over once, to the one transaction that commits.
 */
import type { SqlExecutor } from '../db/database.js';
import type { JobRow as Job } from '../db/schema.js';

export const JOB_ENDED_CHANNEL = 'job_ended';

/**
 * Wraps an UPDATE of import_jobs that ends jobs (`... returning id, tenant_id, status`) so that
 * the same statement records each job it moved to a terminal status in the outbox. The result
 * has one row (job_id) per job so ended.
 */
export function endJobSql(update: string): string {
  return `with ended as (${update}),
    recorded as (
      insert into job_endings (job_id, tenant_id, status)
      select id, tenant_id, status from ended where status in ('COMPLETED', 'FAILED', 'CANCELLED')
      returning job_id)
    select job_id, pg_notify('${JOB_ENDED_CHANNEL}', job_id::text) from recorded`;
}

export interface JobEnding { endingId: number; status: string; job: Job }

/**
 * Takes up to `limit` ended jobs from the outbox, oldest first, and deletes their rows: the
 * caller's transaction must do its work with them before it commits (rows another transaction
 * holds are skipped, not waited for).
 */
export async function takeJobEndings(tx: SqlExecutor, limit: number): Promise<JobEnding[]> {
  const rows = await tx.query<{ ending_id: number; ending_status: string; job: Record<string, unknown> }>(
    `with taken as (
       delete from job_endings where id in (
         select id from job_endings order by id for update skip locked limit $1)
       returning id, job_id, status)
     select taken.id as ending_id, taken.status as ending_status, to_jsonb(j) as job
     from taken join import_jobs j on j.id = taken.job_id order by taken.id`,
    [limit],
  );
  return rows.map((r) => ({ endingId: Number(r.ending_id), status: r.ending_status, job: jobFromJson(r.job) }));
}

const DATES = new Set(['created_at', 'started_at', 'finished_at', 'lease_expires_at']);

/** A job row read as jsonb (snake_case, timestamps as text) in the shape Drizzle gives. */
function jobFromJson(json: Record<string, unknown>): Job {
  const job: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const name = key.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    job[name] = DATES.has(key) && typeof value === 'string' ? new Date(value) : value;
  }
  return job as unknown as Job;
}
