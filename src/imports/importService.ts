/**
 * Starting an import from an uploaded file: the checks that come before a job exists (kind,
 * options, the tenant's active-job limit, size, format, header), then the QUEUED job. Expected
 * failures are values with a UserErrorCode; the resolver turns them into `userErrors`.
 */
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { countActiveJobs, createJobWithinLimit, type Job } from '../jobs/jobStore.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { Metrics } from '../ops/metrics.js';
import { inspectFile } from './formats/inspect.js';
import type { ImportFormat } from './formats/types.js';
import { KINDS } from './kinds/index.js';
import { drain, spoolUpload } from './spool.js';

export type UserErrorCode =
  | 'IMPORT_IN_PROGRESS' | 'FILE_TOO_LARGE' | 'SCHEMA_MISMATCH' | 'INVALID_FILE' | 'DUPLICATE_FILE'
  | 'BATCH_TOO_LARGE' | 'INVALID_INPUT' | 'NOT_FOUND';

export interface UserError { code: UserErrorCode; message: string; field?: string[] }

export type ImportResult = { ok: true; job: Job } | ({ ok: false } & UserError);

export interface ImportDeps { db: Database; bus: ProgressBus; config: Config; metrics: Metrics }

export interface UploadRequest {
  tenantId: string;
  stream: Readable;
  filename: string | null;
  kind: string;
  format?: ImportFormat | null;
  dryRun?: boolean | null;
  maxErrors?: number | null;
}

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
  const inspection = await inspectFile(spooled.path, { filename: req.filename, format: req.format, kind });
  if (!inspection.ok) return discard({ code: inspection.code, message: inspection.message, field: ['input', 'file'] });

  const job = await createJobWithinLimit(deps.db, {
    tenantId: req.tenantId,
    kind: kind.name,
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
