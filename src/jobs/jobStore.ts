/**
 * Every read and write of import_jobs: one function per data operation. Reads are
 * always scoped by tenant; the runner's writes are fenced by the job's `attempt` (see leases.ts).
 */
import { and, asc, count, desc, eq, gt, inArray, lt, type SQL } from 'drizzle-orm';
import type { Database, SqlExecutor } from '../db/database.js';
import { importJobs, type JobRow } from '../db/schema.js';
import { holdLock, LockIds } from '../db/lockIds.js';
import { ACTIVE_STATUSES, JobStatus } from './states.js';
import type { JobOptions } from '../kinds/types.js';
import { endJobSql } from './jobEndings.js';

export type Job = JobRow;

export interface NewJob {
  tenantId: string;
  kind: string;
  /** The kind's options (kinds/options.ts); none when absent. */
  options?: JobOptions;
  format: string;
  dryRun: boolean;
  maxErrors?: number | null;
  filename?: string | null;
  fileSize: number;
  fileSha256: string;
  spoolPath: string;
  header: string[] | null;
  /** CSV: how the file is read (intake/inspect.ts CsvReading); a comma and no mapping when absent. */
  delimiter?: string | null;
  columnMapping?: { from: string; to: string | null }[] | null;
  columnMappingName?: string | null;
  /** XLSX: the sheet asked for; null or absent: the first. */
  sheet?: string | null;
}


/** Until the transaction ends, no other one counts or adds the tenant's jobs (or its arriving uploads). */
export async function lockTenantJobs(tx: SqlExecutor, tenantId: string): Promise<void> {
  await holdLock(tx, LockIds.TENANT_JOBS, tenantId);
}

export async function countActiveJobs(db: SqlExecutor, tenantId: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `select count(*)::int as n from import_jobs where tenant_id = $1 and status = any($2)`,
    [tenantId, ACTIVE_STATUSES],
  );
  return row.n;
}

/** Inserts the QUEUED job unless the tenant is at its limit of active jobs; null when it is. */
export async function createJobWithinLimit(db: Database, job: NewJob, maxActive: number): Promise<Job | null> {
  const created = await db.transaction(async (tx) => {
    await lockTenantJobs(tx, job.tenantId);
    if ((await countActiveJobs(tx, job.tenantId)) >= maxActive) return null;
    const [row] = await tx.query<{ id: string; seq: number; created_ms: number }>(
      `insert into import_jobs (tenant_id, kind, collection, location_type, format, status, dry_run, max_errors,
         filename, file_size, file_sha256, spool_path, header, delimiter, column_mapping, column_mapping_name, sheet)
       values ($1, $2, $3, $4, $5, 'QUEUED', $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14::jsonb, $15, $16)
       returning id, seq, (extract(epoch from created_at) * 1000)::float8 as created_ms`,
      [job.tenantId, job.kind, job.options?.collection ?? null, job.options?.locationType ?? null, job.format, job.dryRun,
        job.maxErrors ?? null, job.filename ?? null, job.fileSize, job.fileSha256, job.spoolPath,
        job.header ? JSON.stringify(job.header) : null, job.delimiter ?? null,
        job.columnMapping ? JSON.stringify(job.columnMapping) : null, job.columnMappingName ?? null, job.sheet ?? null],
    );
    return row;
  });
  if (!created) return null;
  // The job as created, not as read back later: a runner may have claimed it already.
  return {
    ...withoutOptions(job), id: created.id, seq: Number(created.seq), createdAt: new Date(Number(created.created_ms)),
    collection: job.options?.collection ?? null, locationType: job.options?.locationType ?? null, maxErrors: job.maxErrors ?? null,
    filename: job.filename ?? null, delimiter: job.delimiter ?? null, columnMapping: job.columnMapping ?? null,
    columnMappingName: job.columnMappingName ?? null, sheet: job.sheet ?? null, status: 'QUEUED', bytesProcessed: 0, rowsTotal: null, rowsProcessed: 0,
    rowsImported: 0, rowsCreated: 0, rowsUpdated: 0, rowsDuplicate: 0, rowsFailed: 0, rowsUnchanged: 0, checkpointOffset: 0,
    revertOf: null, revertForce: false,
    checkpointLine: 0, leaseOwner: null, leaseExpiresAt: null, attempt: 0, cancelRequested: false,
    failureReason: null, startedAt: null, finishedAt: null,
  };
}

/** Unscoped: for the worker and the pubsub, never for a resolver. */
export async function getJobById(db: Database, id: string): Promise<Job | null> {
  const [row] = await db.orm.select().from(importJobs).where(eq(importJobs.id, id));
  return row ?? null;
}

export async function getJob(db: Database, tenantId: string, id: string): Promise<Job | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.orm.select().from(importJobs)
    .where(and(eq(importJobs.id, id), eq(importJobs.tenantId, tenantId)));
  return row ?? null;
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

export interface JobFilter { status?: string[] | null; kind?: string[] | null }

function jobFilterWhere(tenantId: string, filter: JobFilter | null | undefined): SQL[] {
  const where: SQL[] = [eq(importJobs.tenantId, tenantId)];
  if (filter?.status?.length) where.push(inArray(importJobs.status, filter.status));
  if (filter?.kind?.length) where.push(inArray(importJobs.kind, filter.kind));
  return where;
}

/**
 * One page of a tenant's jobs, newest first, by keyset on `seq`: a page starts strictly after
 * its cursor, so jobs created meanwhile can't shift it. `inverted` reads backwards (for `last`).
 */
export async function listJobs(db: Database, tenantId: string, page: {
  filter?: JobFilter | null; afterSeq?: number; beforeSeq?: number; limit: number; inverted: boolean;
}): Promise<Job[]> {
  const where = jobFilterWhere(tenantId, page.filter);
  if (page.afterSeq !== undefined) where.push(lt(importJobs.seq, page.afterSeq));
  if (page.beforeSeq !== undefined) where.push(gt(importJobs.seq, page.beforeSeq));
  return db.orm.select().from(importJobs).where(and(...where))
    .orderBy(page.inverted ? asc(importJobs.seq) : desc(importJobs.seq))
    .limit(page.limit);
}

export async function countJobs(db: Database, tenantId: string, filter?: JobFilter | null): Promise<number> {
  const [row] = await db.orm.select({ n: count() }).from(importJobs).where(and(...jobFilterWhere(tenantId, filter)));
  return Number(row.n);
}

/** Cancels a queued job at once; asks a running one to stop (its runner sees the flag at its next batch). */
export async function requestCancel(db: Database, tenantId: string, id: string): Promise<Job | null> {
  if (!isUuid(id)) return null;
  // A queued job ends here: its row in the outbox of job ends goes in with the same statement.
  await db.query(endJobSql(
    `update import_jobs set
       status = case when status = 'QUEUED' then 'CANCELLED' else status end,
       finished_at = case when status = 'QUEUED' then now() else finished_at end,
       cancel_requested = true
     where id = $1 and tenant_id = $2 and status = any($3) returning id, tenant_id, status`),
    [id, tenantId, ACTIVE_STATUSES],
  );
  return getJob(db, tenantId, id);
}

export { JobStatus };

/** Distinct values of one column among a job's rows (Job.facets), at most `limit`, sorted. */
export async function distinctValues(db: Database, table: string, column: string, jobId: string, limit: number): Promise<string[]> {
  const rows = await db.query<{ value: string }>(
    `select distinct "${column}"::text as value from "${table}" where job_id = $1 and "${column}" is not null order by 1 limit $2`,
    [jobId, limit],
  );
  return rows.map((r) => r.value);
}

/**
 * An earlier job of the tenant that imported a byte-identical file (same SHA-256) as the same
 * kind (into the same collection; of a workbook, the same sheet, named alike or not at all): for DUPLICATE_FILE. Dry runs, failed and cancelled jobs don't count: their rows are not in;
 * nor do reverted ones.
 */
export async function findSameFile(db: SqlExecutor, tenantId: string, kind: string, sha256: string, options: JobOptions, sheet: string | null): Promise<string | null> {
  const [row] = await db.query<{ id: string }>(
    `select id from import_jobs
     where tenant_id = $1 and kind = $2 and file_sha256 = $3 and collection is not distinct from $4
       and lower(btrim(sheet)) is not distinct from lower(btrim($6::text))
       and not dry_run and status = any($5)
       and not exists (select 1 from import_jobs r where r.revert_of = import_jobs.id and r.status = 'COMPLETED' and not r.dry_run)
     order by seq desc limit 1`,
    [tenantId, kind, sha256, options.collection, [...ACTIVE_STATUSES, JobStatus.COMPLETED], sheet],
  );
  return row?.id ?? null;
}

/** The tenant's latest job, of any kind, that imported (or is importing) a file with this SHA-256. */
export async function findSameFileAnyKind(db: SqlExecutor, tenantId: string, sha256: string): Promise<{ id: string; kind: string } | null> {
  const [row] = await db.query<{ id: string; kind: string }>(
    `select id, kind from import_jobs
     where tenant_id = $1 and file_sha256 = $2 and not dry_run and status = any($3)
     order by seq desc limit 1`,
    [tenantId, sha256, [...ACTIVE_STATUSES, JobStatus.COMPLETED]],
  );
  return row ?? null;
}

/** How many jobs, across all tenants and instances, are in each active state (the bulk_import_jobs gauge). */
export async function countActiveJobsByStatus(db: SqlExecutor): Promise<Map<JobStatus, number>> {
  const rows = await db.query<{ status: JobStatus; n: number }>(
    'select status, count(*)::int as n from import_jobs where status = any($1) group by status', [ACTIVE_STATUSES]);
  const counts = new Map<JobStatus, number>(ACTIVE_STATUSES.map((s) => [s, 0]));
  for (const r of rows) counts.set(r.status, r.n);
  return counts;
}

/** Whether the jobs table answers: the database is reachable and migrated (/readyz). */
export async function jobsTableAnswers(db: SqlExecutor): Promise<void> {
  await db.query('select 1 from import_jobs limit 1');
}

/** What the spool sweep needs to know of the jobs whose upload is one of `paths`. */
export interface SpoolFileUse { spoolPath: string; active: boolean; endedMs: number | null }

export async function jobsUsingSpoolFiles(db: SqlExecutor, paths: readonly string[]): Promise<SpoolFileUse[]> {
  const rows = await db.query<{ spool_path: string; active: boolean; ended_ms: number | null }>(
    `select spool_path, status = any($2) as active, (extract(epoch from finished_at) * 1000)::float8 as ended_ms
     from import_jobs where spool_path = any($1)`,
    [paths, ACTIVE_STATUSES],
  );
  return rows.map((r) => ({ spoolPath: r.spool_path, active: r.active, endedMs: r.ended_ms === null ? null : Number(r.ended_ms) }));
}

/** The options a job was created with (the kinds' `options`), as one record. */
export function jobOptionsOf(job: Job): JobOptions {
  return { collection: job.collection, locationType: job.locationType };
}

const withoutOptions = ({ options: _options, ...rest }: NewJob) => rest;
