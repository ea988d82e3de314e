/**
 * Jobs and batches for the core tests (test/core/): a tenant, queued EVENTS jobs as an upload
 * creates them, and commit batches cut from a CSV file's text by the real row pipeline.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from '../../src/db/database.js';
import { createJobWithinLimit, getJobById, type Job } from '../../src/jobs/jobStore.js';
import { getKind } from '../../src/kinds/index.js';
import { splitRecord } from '../../src/parse/csvReader.js';
import { copyColumnsFor, createRowPipeline } from '../../src/parse/rowPipeline.js';
import type { BatchTarget, BatchToCommit } from '../../src/runner/commitBatch.js';
import { EVENT_COLUMNS, eventsCsv, type EventRow } from './events.js';

export const LEASE_MS = 30_000;
const HEADER = [...EVENT_COLUMNS, 'event_id'];

export async function createTenant(db: Database): Promise<string> {
  const [{ id }] = await db.query<{ id: string }>('insert into tenants (name) values ($1) returning id', [`tenant-${randomBytes(4).toString('hex')}`]);
  return id;
}

/** A queued EVENTS job of a CSV file with HEADER's columns. */
export async function queueJob(db: Database, tenantId: string, opts: { maxErrors?: number } = {}): Promise<Job> {
  const job = await createJobWithinLimit(db, {
    tenantId, kind: 'EVENTS', format: 'CSV', dryRun: false, maxErrors: opts.maxErrors ?? null, filename: 'events.csv',
    fileSize: 0, fileSha256: randomBytes(32).toString('hex'), spoolPath: '/nonexistent/spool-file', header: HEADER,
  }, 1_000);
  if (!job) throw new Error('the job was refused');
  return job;
}

export async function jobNow(db: Database, jobId: string): Promise<Job> {
  const job = await getJobById(db, jobId);
  if (!job) throw new Error(`job ${jobId} is gone`);
  return job;
}

/** Where commitBatch writes an EVENTS CSV job's rows, as the runner sets it up (CSV COPY, as on PGlite). */
export function eventsTarget(): BatchTarget {
  return {
    table: 'events', columns: copyColumnsFor({ kind: getKind('EVENTS'), format: 'CSV', header: HEADER }),
    copyFormat: 'csv', dedupColumn: 'event_id', dryRun: false, leaseMs: LEASE_MS,
  };
}

/**
 * The commit batches of a CSV file holding `groups` of rows, one batch per group, with the byte
 * offsets and line numbers the reader would give them (the first batch takes in the header).
 */
export function eventBatches(job: Pick<Job, 'id' | 'tenantId'>, groups: EventRow[][]): BatchToCommit[] {
  const pipeline = createRowPipeline({
    kind: getKind('EVENTS'), format: 'CSV', header: HEADER, tenantId: job.tenantId, jobId: job.id, startOffset: 0,
  });
  const [header, ...lines] = eventsCsv(groups.flat(), HEADER).split('\n').slice(0, -1);
  let offset = Buffer.byteLength(header) + 1;
  let line = 1;
  return groups.map((group) => {
    const records = lines.splice(0, group.length).map((raw) => {
      offset += Buffer.byteLength(raw) + 1;
      return splitRecord(raw, ++line);
    });
    const prepared = pipeline.prepare({ records, endOffset: offset, endLine: line });
    return { ...prepared, ...pipeline.takeCopyData() };
  });
}

/** What a user sees of a job's import: its rows in the table, its row errors, and its counters. */
export async function importedState(db: Database, jobId: string) {
  const [{ rows }] = await db.query<{ rows: number }>('select count(*)::int as rows from events where job_id = $1', [jobId]);
  const [{ errors }] = await db.query<{ errors: number }>('select count(*)::int as errors from job_errors where job_id = $1', [jobId]);
  const job = await jobNow(db, jobId);
  return {
    rows, errors, status: job.status, rowsProcessed: job.rowsProcessed, rowsImported: job.rowsImported,
    rowsFailed: job.rowsFailed, rowsDuplicate: job.rowsDuplicate, checkpointOffset: job.checkpointOffset, checkpointLine: job.checkpointLine,
  };
}
