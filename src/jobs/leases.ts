/**
 * The runner's side of import_jobs: claiming, committing a batch, renewing and giving back the
 * lease, finishing. Every write after the claim is fenced by (id, attempt): a claim bumps
 * `attempt`, so a runner that lost its lease (it stalled, another took over) writes nothing.
 */
import type { CopyFormat, Database, Transaction } from '../db/database.js';
import type { PreparedBatch } from '../imports/rowPipeline.js';
import { JobStatus } from './states.js';
import { csvCell, withoutNul } from '../db/copyCsv.js';
import { copyIntoStaging } from '../db/stagingTable.js';
import type { ImportKind, RowError } from '../imports/kinds/types.js';
import { RecordIndex, upsertRows } from './upsertRows.js';

/** A batch ready to commit: its counts, and its COPY data as prepared by the parse thread (in the target's copyFormat). */
export type BatchToCommit = PreparedBatch & { copyData: string | Uint8Array; keyedData: string | Uint8Array };

export interface Fence { jobId: string; attempt: number }

export class LeaseLostError extends Error {
  constructor(jobId: string) { super(`lease on job ${jobId} was lost to another runner`); }
}

/** Claims the oldest queued job, or a running one whose lease has expired (its runner died). */
export async function claimJob(db: Database, owner: string, leaseMs: number): Promise<Fence | null> {
  const [row] = await db.query<{ id: string; attempt: number }>(
    `update import_jobs set status = 'RUNNING', lease_owner = $1, attempt = attempt + 1,
       lease_expires_at = now() + $2 * interval '1 millisecond', started_at = coalesce(started_at, now())
     where id = (
       select id from import_jobs
       where status = 'QUEUED' or (status = 'RUNNING' and lease_expires_at < now())
       order by seq for update skip locked limit 1)
     returning id, attempt`,
    [owner, leaseMs],
  );
  return row ? { jobId: row.id, attempt: row.attempt } : null;
}

export type BatchOutcome = 'committed' | 'already-committed' | 'cancelled' | 'too-many-errors';

/** What commitBatch did: the rows it wrote (duplicates not counted), and the rows that failed, checks against the database included. */
export interface BatchResult { outcome: BatchOutcome; rowsWritten: number; rowsFailed: number }

export interface BatchTarget {
  table: string;
  columns: readonly string[];
  /** The kind's dedup column (ImportKind.dedupColumn), whose keyed rows skip duplicates. */
  dedupColumn?: string;
  /** The unique index's columns (ImportKind.dedupScope); by default tenant_id and dedupColumn. */
  dedupScope?: readonly string[];
  /** How the batches' COPY data is encoded (imports/copyData.ts). */
  copyFormat: CopyFormat;
  dryRun: boolean;
  leaseMs: number;
  /** Set for roster kinds, whose rows are upserted (ImportKind.upsert) instead of appended. */
  upsert?: { kind: ImportKind; tenantId: string; locationType: string | null; dryRunRecords?: RecordIndex };
}

const ERROR_COLUMNS = ['job_id', 'line', 'column', 'value', 'message', 'raw_row'] as const;

/**
 * One transaction: lock the job row (fence), write the valid rows with COPY, the row errors with
 * COPY, and move counters and checkpoint together. Either all of it lands or none of it does, so
 * a resumed run starting at the checkpoint neither skips nor repeats a row.
 *
 * With `after` (the commit of the batch before this one, still under way), the batch's plain rows
 * are COPYed first, while that commit finishes: two Postgres backends at work instead of one. The
 * job row is locked and checked only once `after` has committed, so checkpoints still move in file
 * order, and the rows stay invisible until COMMIT, which every check can still prevent. Keyed rows
 * (ON CONFLICT) wait too: inserted alongside the batch before, a key both batches hold would make
 * each wait on the other.
 */
export async function commitBatch(db: Database, fence: Fence, batch: BatchToCommit, target: BatchTarget, after?: Promise<unknown>): Promise<BatchResult> {
  if (after && hasPlainRows(batch, target)) {
    try {
      return await db.transaction(async (tx) => {
        await tx.copy(target.table, target.columns, batch.copyData, target.copyFormat);
        await after;
        return writeBatch(tx, fence, batch, target, true);
      });
    } catch (err) {
      // The checks found nothing to write (cancelled, or committed by an earlier attempt): the
      // rows COPYed ahead were rolled back, and the plain way below decides again under the lock.
      if (!(err instanceof NothingToWrite)) throw err;
    }
  } else if (after) await after;
  return db.transaction((tx) => writeBatch(tx, fence, batch, target, false));
}

/** Thrown to roll back a transaction whose rows were COPYed before the checks said not to write them. */
class NothingToWrite extends Error {}

const hasPlainRows = (batch: BatchToCommit, target: BatchTarget) => !target.upsert && !target.dryRun && batch.rowsValid > batch.rowsKeyed;

async function writeBatch(tx: Transaction, fence: Fence, batch: BatchToCommit, target: BatchTarget, plainCopied: boolean): Promise<BatchResult> {
  const [job] = await tx.query<{ cancel_requested: boolean; max_errors: number | null; rows_failed: number; checkpoint_offset: number }>(
    `select cancel_requested, max_errors, rows_failed, checkpoint_offset from import_jobs
     where id = $1 and attempt = $2 and status = 'RUNNING' for update`,
    [fence.jobId, fence.attempt],
  );
  if (!job) throw new LeaseLostError(fence.jobId);
  // A retry after a connection lost during COMMIT: the commit may have landed. The checkpoint
  // says so, and then writing the batch again would duplicate it.
  if (Number(job.checkpoint_offset) === batch.endOffset && batch.endOffset !== batch.startOffset) {
    if (plainCopied) throw new NothingToWrite();
    return { outcome: 'already-committed', rowsWritten: 0, rowsFailed: 0 };
  }
  if (Number(job.checkpoint_offset) !== batch.startOffset) {
    throw new Error(`batch starts at byte ${batch.startOffset} but the job's checkpoint is at ${job.checkpoint_offset}`);
  }
  if (job.cancel_requested) {
    if (plainCopied) throw new NothingToWrite();
    await finish(tx, fence, JobStatus.CANCELLED, null);
    return { outcome: 'cancelled', rowsWritten: 0, rowsFailed: 0 };
  }
  const written = target.upsert
    ? await upsertBatch(tx, fence, batch, target)
    : await appendBatch(tx, batch, target, plainCopied);
  const errors = written.errors ? [...batch.errors, ...written.errors] : batch.errors;
  const rowsFailed = batch.rowsFailed + (written.rowsFailed ?? 0);
  if (errors.length > 0) await tx.copy('job_errors', ERROR_COLUMNS, errorsCsv(fence.jobId, errors));
  await tx.query(
    `update import_jobs set
       rows_processed = rows_processed + $3, rows_imported = rows_imported + $4, rows_failed = rows_failed + $5,
       rows_duplicate = rows_duplicate + $9, rows_created = rows_created + $10, rows_updated = rows_updated + $11,
       bytes_processed = $6, checkpoint_offset = $6, checkpoint_line = $7,
       lease_expires_at = clock_timestamp() + $8 * interval '1 millisecond'
     where id = $1 and attempt = $2`,
    [fence.jobId, fence.attempt, batch.rowsProcessed, written.imported, rowsFailed,
      batch.endOffset, batch.endLine, target.leaseMs, written.duplicates, written.created, written.updated],
  );
  const failed = job.rows_failed + rowsFailed;
  if (job.max_errors !== null && failed > job.max_errors) {
    await finish(tx, fence, JobStatus.FAILED, `${failed} rows failed, more than maxErrors (${job.max_errors})`);
    return { outcome: 'too-many-errors', rowsWritten: written.imported, rowsFailed };
  }
  return { outcome: 'committed', rowsWritten: written.imported, rowsFailed };
}

/** What a batch wrote: the counters it moves, and the row errors found only against the database. */
interface Written {
  imported: number;
  duplicates: number;
  created: number;
  updated: number;
  errors?: (RowError & { rawRow: string })[];
  rowsFailed?: number;
}

/** Appended kinds: COPY the rows; those with a dedup key go through the staging table. */
async function appendBatch(tx: Transaction, batch: BatchToCommit, target: BatchTarget, plainCopied: boolean): Promise<Written> {
  let duplicates = 0;
  if (target.dryRun) return { imported: 0, duplicates, created: 0, updated: 0 };
  if (!plainCopied && hasPlainRows(batch, target)) await tx.copy(target.table, target.columns, batch.copyData, target.copyFormat);
  if (batch.rowsKeyed > 0) duplicates = batch.rowsKeyed - await insertSkippingDuplicates(tx, target, batch.keyedData);
  return { imported: batch.rowsValid - duplicates, duplicates, created: 0, updated: 0 };
}

/** Roster kinds: each row creates or updates a record (jobs/upsertRows.ts). */
async function upsertBatch(tx: Transaction, fence: Fence, batch: BatchToCommit, target: BatchTarget): Promise<Written> {
  const { kind, tenantId, locationType, dryRunRecords } = target.upsert!;
  const result = await upsertRows(tx, kind, batch.upsertRows, { tenantId, jobId: fence.jobId, locationType, dryRun: target.dryRun, dryRunRecords });
  return { imported: result.created + result.updated, duplicates: 0, ...result };
}

/**
 * COPY has no ON CONFLICT: keyed rows are copied into a per-session temporary staging table, then
 * inserted with ON CONFLICT DO NOTHING against the (tenant_id, key) unique index, which skips
 * keys the tenant already has and repeats within the batch alike. Returns the rows inserted.
 */
async function insertSkippingDuplicates(tx: Transaction, target: BatchTarget, data: string | Uint8Array): Promise<number> {
  if (!target.dedupColumn) throw new Error(`${target.table} has keyed rows but no dedup column`);
  const staging = await copyIntoStaging(tx, target.table, target.columns, data, target.copyFormat);
  const columns = target.columns.map((c) => `"${c}"`).join(', ');
  const [{ n }] = await tx.query<{ n: number }>(
    `with inserted as (
       insert into "${target.table}" (${columns}) select ${columns} from "${staging}" order by line
       on conflict (${(target.dedupScope ?? ['tenant_id', target.dedupColumn]).map((c) => `"${c}"`).join(', ')})
         where "${target.dedupColumn}" is not null do nothing
       returning 1)
     select count(*)::int as n from inserted`,
  );
  return n;
}

/** Ends the job; false when the fence no longer holds (another runner has it), and nothing changed. */
async function finish(tx: Transaction, fence: Fence, status: JobStatus, reason: string | null): Promise<boolean> {
  const rows = await tx.query(
    `update import_jobs set status = $3, failure_reason = $4, finished_at = now(), lease_owner = null,
       lease_expires_at = null, rows_total = case when $3 = 'COMPLETED' then rows_processed else rows_total end
     where id = $1 and attempt = $2 and status = 'RUNNING' returning id`,
    [fence.jobId, fence.attempt, status, reason],
  );
  return rows.length > 0;
}

export async function finishJob(db: Database, fence: Fence, status: JobStatus, reason: string | null): Promise<boolean> {
  return db.transaction((tx) => finish(tx, fence, status, reason));
}

/** Extends the lease; false when it was lost. */
export async function renewLease(db: Database, fence: Fence, leaseMs: number): Promise<boolean> {
  const rows = await db.query(
    `update import_jobs set lease_expires_at = now() + $3 * interval '1 millisecond'
     where id = $1 and attempt = $2 and status = 'RUNNING' returning id`,
    [fence.jobId, fence.attempt, leaseMs],
  );
  return rows.length > 0;
}

/** Gives the job back at shutdown: still RUNNING, but claimable at once from its checkpoint. */
export async function releaseLease(db: Database, fence: Fence): Promise<void> {
  await db.query(
    `update import_jobs set lease_owner = null, lease_expires_at = now() - interval '1 second'
     where id = $1 and attempt = $2 and status = 'RUNNING'`,
    [fence.jobId, fence.attempt],
  );
}

function errorsCsv(jobId: string, errors: readonly (RowError & { rawRow: string })[]): string {
  let out = '';
  for (const e of errors) {
    const cells = [e.column, e.value, e.message, e.rawRow].map((v) => csvCell(withoutNul(v)));
    out += `${jobId},${e.line},${cells.join(',')}\n`;
  }
  return out;
}
