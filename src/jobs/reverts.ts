/**
 * Revert jobs in import_jobs: creating one for an import, and finding an import's revert. A revert
 * is a job of the import's kind with `revert_of` set and no file; its checkpoint_offset is a
 * cursor in the import's rows (runner/revertJob.ts).
 *
 * An import is reverted once: a revert that is queued, running or completed (dry runs aside)
 * refuses another. One that was cancelled or failed leaves the rest of the import to undo, and
 * the next revert starts where it stopped, from its checkpoint.
 */
import type { Database } from '../db/database.js';
import { countActiveJobs, getJob, lockTenantJobs, type Job } from './jobStore.js';
import { JobStatus } from './states.js';

export type RevertRefusal =
  | { code: 'NOT_FOUND' }
  | { code: 'IMPORT_IN_PROGRESS' }
  | { code: 'INVALID_INPUT'; message: string };

export interface RevertRequest { tenantId: string; jobId: string; dryRun: boolean; force: boolean }

const COLUMNS = 'id, seq, status, checkpoint_offset';

/** Creates the QUEUED revert of a tenant's import, or says why not; under the tenant's jobs lock, so two requests cannot both pass. */
export async function createRevertJob(db: Database, req: RevertRequest, maxActive: number): Promise<{ job: Job } | RevertRefusal> {
  const created = await db.transaction(async (tx): Promise<{ id: string } | RevertRefusal> => {
    await lockTenantJobs(tx, req.tenantId);
    const [original] = await tx.query<{ id: string; status: string; dry_run: boolean; revert_of: string | null }>(
      'select id, status, dry_run, revert_of from import_jobs where id = $1 and tenant_id = $2', [req.jobId, req.tenantId]);
    if (!original) return { code: 'NOT_FOUND' };
    const refused = (message: string): RevertRefusal => ({ code: 'INVALID_INPUT', message });
    if (original.revert_of !== null) return refused('This job is a revert; it cannot be reverted');
    if (original.dry_run) return refused('This job was a dry run: it wrote nothing to revert');
    if (original.status !== JobStatus.COMPLETED && original.status !== JobStatus.FAILED) {
      return refused(`Only a COMPLETED or FAILED import can be reverted; this one is ${original.status}`);
    }
    const earlier = await tx.query<{ id: string; status: string; checkpoint_offset: string | number }>(
      `select ${COLUMNS} from import_jobs where revert_of = $1 and not dry_run order by seq desc`, [original.id]);
    const blocking = earlier.find((r) => r.status !== JobStatus.CANCELLED && r.status !== JobStatus.FAILED);
    if (blocking && !req.dryRun) {
      return refused(blocking.status === JobStatus.COMPLETED
        ? 'This import has already been reverted' : `This import is being reverted (the revert is ${blocking.status})`);
    }
    if ((await countActiveJobs(tx, req.tenantId)) >= maxActive) return { code: 'IMPORT_IN_PROGRESS' };
    // A cancelled or failed revert undid part of the import: the next one goes on from there.
    const resumeAt = req.dryRun ? 0 : Number(earlier[0]?.checkpoint_offset ?? 0);
    const [row] = await tx.query<{ id: string }>(
      `insert into import_jobs (tenant_id, kind, collection, location_type, format, status, dry_run, filename,
         revert_of, revert_force, rows_total, checkpoint_offset)
       select tenant_id, kind, collection, location_type, format, 'QUEUED', $2, filename, id, $3,
         rows_imported + rows_unchanged, $4
       from import_jobs where id = $1
       returning id`,
      [original.id, req.dryRun, req.force, resumeAt],
    );
    return row;
  });
  if (!('id' in created)) return created;
  return { job: (await getJob(db, req.tenantId, created.id))! };
}

/** The latest revert of an import that is not a dry run (Job.revertedBy), or null. */
export async function findRevertOf(db: Database, tenantId: string, jobId: string): Promise<Job | null> {
  const [row] = await db.query<{ id: string }>(
    'select id from import_jobs where revert_of = $1 and tenant_id = $2 and not dry_run order by seq desc limit 1', [jobId, tenantId]);
  return row ? getJob(db, tenantId, row.id) : null;
}
