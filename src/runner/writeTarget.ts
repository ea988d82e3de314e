/**
 * What a job writes and how: its table and COPY columns, the COPY encoding (binary against
 * Postgres, which costs it less CPU; CSV on PGlite), dedup, and for roster kinds the upsert's context.
 */
import type { Database } from '../db/database.js';
import { binaryTypesOf } from '../db/binaryTypes.js';
import { jobOptionsOf, type Job } from '../jobs/jobStore.js';
import { getKind } from '../kinds/index.js';
import type { ImportKind } from '../kinds/types.js';
import type { CopyEncoding } from '../parse/copyData.js';
import { copyColumnsFor } from '../parse/rowPipeline.js';
import { spooledFormat, type ImportFormat } from '../parse/types.js';
import type { BatchTarget } from './commitBatch.js';
import { RecordIndex } from './upsertRows.js';

export interface WriteTarget { kind: ImportKind; format: ImportFormat; copy: CopyEncoding; target: BatchTarget }

export function writeTargetFor(db: Database, job: Job, leaseMs: number): WriteTarget {
  const kind = getKind(job.kind);
  const format = spooledFormat(job.format);
  const columns = copyColumnsFor({ kind, format, header: job.header, columnMapping: job.columnMapping });
  const binaryTypes = db.driver === 'postgres' ? binaryTypesOf(kind.table, columns) : null;
  const copy: CopyEncoding = binaryTypes ? { format: 'binary', types: binaryTypes } : { format: 'csv' };
  const target: BatchTarget = {
    table: kind.table,
    columns,
    copyFormat: copy.format,
    dedupColumn: kind.columns.find((c) => c.name === kind.dedupColumn)?.dbColumn,
    dedupScope: kind.dedupScope,
    dryRun: job.dryRun,
    leaseMs,
    upsert: kind.upsert
      ? { kind, tenantId: job.tenantId, options: jobOptionsOf(job), dryRunRecords: job.dryRun ? new RecordIndex() : undefined }
      : undefined,
  };
  return { kind, format, copy, target };
}
