/**
 * Writes one parsed batch in one transaction: the rows (COPY, or upserts for roster kinds), their
 * row errors, and the job's counters and checkpoint, all fenced by the job's lease (jobs/leases.ts).
 */
import type { CopyFormat, Database, Transaction } from '../db/database.js';
import { copyIntoStaging } from '../db/stagingTable.js';
import { advanceCheckpoint, finishIn, lockForBatch, type Fence } from '../jobs/leases.js';
import { insertRowErrors } from '../jobs/rowErrors.js';
import { JobStatus } from '../jobs/states.js';
import type { ImportKind, JobOptions, RowError } from '../kinds/types.js';
import type { PreparedBatch } from '../parse/rowPipeline.js';
import { RecordIndex, upsertRows } from './upsertRows.js';

/** A batch ready to commit: its counts, and its COPY data as prepared by the parse thread (in the target's copyFormat). */
export type BatchToCommit = PreparedBatch & { copyData: string | Uint8Array; keyedData: string | Uint8Array };

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
  /** How the batches' COPY data is encoded (parse/copyData.ts). */
  copyFormat: CopyFormat;
  dryRun: boolean;
  leaseMs: number;
  /** Set for roster kinds, whose rows are upserted (ImportKind.upsert) instead of appended. */
  upsert?: { kind: ImportKind; tenantId: string; options: JobOptions; dryRunRecords?: RecordIndex };
}

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
  const job = await lockForBatch(tx, fence);
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
    await finishIn(tx, fence, JobStatus.CANCELLED, null);
    return { outcome: 'cancelled', rowsWritten: 0, rowsFailed: 0 };
  }
  const written = target.upsert
    ? await upsertBatch(tx, fence, batch, target)
    : await appendBatch(tx, batch, target, plainCopied);
  const errors = written.errors ? [...batch.errors, ...written.errors] : batch.errors;
  const rowsFailed = batch.rowsFailed + (written.rowsFailed ?? 0);
  if (errors.length > 0) await insertRowErrors(tx, fence.jobId, errors);
  await advanceCheckpoint(tx, fence, {
    rowsProcessed: batch.rowsProcessed, rowsImported: written.imported, rowsFailed, rowsDuplicate: written.duplicates,
    rowsCreated: written.created, rowsUpdated: written.updated, rowsUnchanged: written.unchanged, offset: batch.endOffset, line: batch.endLine,
  }, target.leaseMs);
  const failed = job.rows_failed + rowsFailed;
  if (job.max_errors !== null && failed > job.max_errors) {
    await finishIn(tx, fence, JobStatus.FAILED, `${failed} rows failed, more than maxErrors (${job.max_errors})`);
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
  unchanged: number;
  errors?: (RowError & { rawRow: string })[];
  rowsFailed?: number;
}

/** Appended kinds: COPY the rows; those with a dedup key go through the staging table. */
async function appendBatch(tx: Transaction, batch: BatchToCommit, target: BatchTarget, plainCopied: boolean): Promise<Written> {
  let duplicates = 0;
  if (target.dryRun) return { imported: 0, duplicates, created: 0, updated: 0, unchanged: 0 };
  if (!plainCopied && hasPlainRows(batch, target)) await tx.copy(target.table, target.columns, batch.copyData, target.copyFormat);
  if (batch.rowsKeyed > 0) duplicates = batch.rowsKeyed - await insertSkippingDuplicates(tx, target, batch.keyedData);
  return { imported: batch.rowsValid - duplicates, duplicates, created: 0, updated: 0, unchanged: 0 };
}

/** Roster kinds: each row creates, updates or leaves a record (runner/upsertRows.ts); a dry run counts what it would do but imports nothing. */
async function upsertBatch(tx: Transaction, fence: Fence, batch: BatchToCommit, target: BatchTarget): Promise<Written> {
  const { kind, tenantId, options, dryRunRecords } = target.upsert!;
  const result = await upsertRows(tx, kind, batch.upsertRows, { ...options, tenantId, jobId: fence.jobId, dryRun: target.dryRun, dryRunRecords });
  return { imported: target.dryRun ? 0 : result.created + result.updated, duplicates: 0, ...result };
}

/**
 * COPY has no ON CONFLICT: keyed rows are copied into a temporary staging table, then
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
