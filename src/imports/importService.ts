/**
 * Starting an import from an uploaded file: the checks that come before a job exists (kind,
 * options, the tenant's active-job limit, size, format, header), then the QUEUED job. Expected
 * failures are values with a UserErrorCode; the resolver turns them into `userErrors`.
 */
import fs from 'node:fs/promises';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { Readable } from 'node:stream';
import { countActiveJobs, createJobWithinLimit, findSameFile, getJobById, type Job } from '../jobs/jobStore.js';
import { isTerminal } from '../jobs/states.js';
import { jobGlobalId } from '../jobs/globalIds.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { Metrics } from '../ops/metrics.js';
import { inspectFile } from './formats/inspect.js';
import type { ImportFormat } from './formats/types.js';
import { KINDS } from './kinds/index.js';
import { COLLECTION_NAME } from './kinds/collection.js';
import { drain, spoolUpload } from './spool.js';
import { normalizeColumnName } from './columns.js';

export type UserErrorCode =
  | 'IMPORT_IN_PROGRESS' | 'FILE_TOO_LARGE' | 'SCHEMA_MISMATCH' | 'INVALID_FILE' | 'DUPLICATE_FILE'
  | 'BATCH_TOO_LARGE' | 'INVALID_INPUT' | 'NOT_FOUND';

export interface UserError { code: UserErrorCode; message: string; field?: string[] }

export type ImportResult = { ok: true; job: Job } | ({ ok: false } & UserError);

export interface ImportDeps { db: Database; bus: ProgressBus; config: Config; metrics: Metrics }

export interface UploadRequest {
  tenantId: string;
  /** Called once the file is spooled, before the job is created: a last word on the request. */
  confirmRequest?: () => Promise<UserError | null>;
  stream: Readable;
  filename: string | null;
  kind: string;
  collection?: string | null;
  /** LOCATIONS only: the type of every location in the file (GraphQL's LocationType, e.g. DISTRICT). */
  locationType?: string | null;
  format?: ImportFormat | null;
  dryRun?: boolean | null;
  maxErrors?: number | null;
  allowDuplicateFile?: boolean | null;
}

export const MAX_BATCH_RECORDS = 5000;

export interface BatchRequest {
  tenantId: string;
  kind: string;
  collection?: string | null;
  locationType?: string | null;
  records: unknown[];
  dryRun?: boolean | null;
  maxErrors?: number | null;
}

/**
 * importBatch: up to MAX_BATCH_RECORDS records in the request. They become an NDJSON spool file
 * and a job like any upload's (same checks, same runner, same row errors by line = record index
 * + 1); the answer waits for the job to end.
 */
export async function importRecords(deps: ImportDeps, req: BatchRequest): Promise<ImportResult> {
  if (req.records.length > MAX_BATCH_RECORDS) {
    return { ok: false, code: 'BATCH_TOO_LARGE', message: `At most ${MAX_BATCH_RECORDS} records per importBatch (got ${req.records.length}); upload a file for more`, field: ['input', 'records'] };
  }
  if (req.records.length === 0) return { ok: false, code: 'INVALID_INPUT', message: 'records is empty', field: ['input', 'records'] };
  const ndjson = req.records.map((r) => JSON.stringify(r)).join('\n') + '\n';
  const result = await importUpload(deps, {
    tenantId: req.tenantId,
    stream: Readable.from([Buffer.from(ndjson)]),
    filename: null,
    kind: req.kind,
    collection: req.collection,
    locationType: req.locationType,
    format: 'NDJSON',
    dryRun: req.dryRun,
    maxErrors: req.maxErrors,
    allowDuplicateFile: true, // records sent twice are deduplicated by their keys, not refused whole
  });
  if (!result.ok) return result;
  let job = result.job;
  const deadline = Date.now() + BATCH_WAIT_MS;
  while (!isTerminal(job.status) && Date.now() < deadline) {
    await deps.bus.nextChange(job.id, 250);
    job = (await getJobById(deps.db, job.id)) ?? job;
  }
  return { ok: true, job };
}

/** How long importBatch waits for its job; past that it answers with the job as it stands. */
const BATCH_WAIT_MS = 60_000;

export async function importUpload(deps: ImportDeps, req: UploadRequest): Promise<ImportResult> {
  const refuse = async (error: UserError): Promise<ImportResult> => {
    await drain(req.stream);
    return { ok: false, ...error };
  };
  const kind = KINDS[req.kind];
  if (!kind) return refuse({ code: 'INVALID_INPUT', message: `Import kind ${req.kind} is not supported yet`, field: ['input', 'kind'] });
  if (req.maxErrors != null && req.maxErrors < 0) {
    return refuse({ code: 'INVALID_INPUT', message: 'maxErrors must be 0 or more', field: ['input', 'maxErrors'] });
  }
  const wantsCollection = kind.jobColumns?.includes('collection') ?? false;
  if (wantsCollection && !COLLECTION_NAME.test(req.collection ?? '')) {
    return refuse({ code: 'INVALID_INPUT', message: 'collection is required for COLLECTION: 1 to 64 letters, digits, _ or -', field: ['input', 'collection'] });
  }
  if (!wantsCollection && req.collection != null) {
    return refuse({ code: 'INVALID_INPUT', message: 'collection is only for COLLECTION imports', field: ['input', 'collection'] });
  }
  if (req.locationType != null && kind.name !== 'LOCATIONS') {
    return refuse({ code: 'INVALID_INPUT', message: 'locationType is only for LOCATIONS imports', field: ['input', 'locationType'] });
  }
  const inProgress: UserError = {
    code: 'IMPORT_IN_PROGRESS',
    message: `This tenant already has ${deps.config.maxActiveJobsPerTenant} import(s) queued or running; wait for it to finish or cancel it`,
  };
  // A cheap early refusal, so a client doesn't upload a whole file just to be told no; the
  // limit is checked again, under a lock, when the job is created.
  if ((await countActiveJobs(deps.db, req.tenantId)) >= deps.config.maxActiveJobsPerTenant) return refuse(inProgress);

  const spooled = await spoolUpload(req.stream, deps.config.spoolDir, deps.config.maxFileSize);
  if (!spooled.ok) return { ok: false, code: spooled.code, message: spooled.message, field: ['input', 'file'] };

  const discard = async (error: UserError): Promise<ImportResult> => {
    await fs.rm(spooled.path, { force: true });
    return { ok: false, ...error };
  };
  let objection: UserError | null | undefined;
  try {
    objection = await req.confirmRequest?.();
  } catch (err) {
    await fs.rm(spooled.path, { force: true });
    throw err;
  }
  if (objection) return discard(objection);
  if (!req.allowDuplicateFile && !req.dryRun) {
    const earlier = await findSameFile(deps.db, req.tenantId, kind.name, spooled.sha256, req.collection ?? null);
    if (earlier) {
      return discard({
        code: 'DUPLICATE_FILE',
        message: `This file was already imported as ${kind.name} (job ${jobGlobalId(earlier)}); send allowDuplicateFile: true to import it again`,
        field: ['input', 'file'],
      });
    }
  }
  const inspection = await inspectFile(spooled.path, { filename: req.filename, format: req.format, kind });
  if (!inspection.ok) return discard({ code: inspection.code, message: inspection.message, field: ['input', 'file'] });

  if (kind.name === 'LOCATIONS' && req.locationType == null && inspection.format === 'CSV'
    && !inspection.header!.some((name) => normalizeColumnName(name) === 'type')) {
    return discard({ code: 'INVALID_INPUT', message: 'LOCATIONS needs locationType (STATE, DISTRICT, BLOCK or CLUSTER), or a type column in the file', field: ['input', 'locationType'] });
  }

  const job = await createJobWithinLimit(deps.db, {
    tenantId: req.tenantId,
    kind: kind.name,
    collection: req.collection,
    locationType: req.locationType?.toLowerCase() ?? null,
    format: inspection.format,
    dryRun: req.dryRun ?? false,
    maxErrors: req.maxErrors,
    filename: req.filename,
    fileSize: spooled.size,
    fileSha256: spooled.sha256,
    spoolPath: spooled.path,
    header: inspection.header,
  }, deps.config.maxActiveJobsPerTenant);
  if (!job) return discard(inProgress);
  deps.metrics.bytesUploaded.inc(spooled.size);
  await deps.bus.publishQueued(job.id);
  return { ok: true, job };
}
