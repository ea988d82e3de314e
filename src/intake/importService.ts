/**
 * Starting an import from a file (uploaded, fetched from a URL, or records of importBatch): the
 * checks that come before a job exists (kind, options, the tenant's active-job limit, size,
 * format, header), then the QUEUED job. Expected failures are values with a UserErrorCode; the
 * resolver turns them into `userErrors`.
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
import { inspectFile } from './inspect.js';
import type { ImportFormat } from '../parse/types.js';
import { KINDS } from '../kinds/index.js';
import type { ImportKind } from '../kinds/types.js';
import { COLLECTION_NAME } from '../kinds/collection.js';
import { drain, spoolUpload, UploadStreamError } from '../spool/spool.js';
import type { UserError } from './userErrors.js';
import { normalizeColumnName } from '../kinds/columns.js';
import type { SourceSettings } from './sources/network.js';
import { describeSource, openSource, parseSource, type OpenedSource, type S3Credentials } from './sources/urlSource.js';

export type { UserError, UserErrorCode } from './userErrors.js';

export type ImportResult = { ok: true; job: Job } | ({ ok: false } & UserError);

export interface ImportDeps { db: Database; bus: ProgressBus; config: Config; metrics: Metrics }

/** What every file import is asked for, whatever brings the file. */
export interface ImportOptions {
  tenantId: string;
  kind: string;
  collection?: string | null;
  /** LOCATIONS only: the type of every location in the file (GraphQL's LocationType, e.g. DISTRICT). */
  locationType?: string | null;
  format?: ImportFormat | null;
  dryRun?: boolean | null;
  maxErrors?: number | null;
  allowDuplicateFile?: boolean | null;
}

export interface UploadRequest extends ImportOptions {
  /** Called once the file is spooled, before the job is created: a last word on the request. */
  confirmRequest?: () => Promise<UserError | null>;
  stream: Readable;
  filename: string | null;
  /** About how many bytes the file has (the request's Content-Length, which also counts the other parts), if known. */
  expectedBytes?: number | null;
}

export interface UrlImportRequest extends ImportOptions {
  url: string;
  s3?: S3Credentials | null;
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
  return importFile(deps, req, {
    filename: req.filename,
    field: ['input', 'file'],
    pastLimit: 'drain',
    holdsSlotWhileArriving: false,
    expectedBytes: req.expectedBytes ?? null,
    open: async () => ({ ok: true, stream: req.stream }),
    // A refused upload is still read to its end, so that its HTTP request finishes.
    abandon: () => drain(req.stream),
  });
}

export const sourceSettings = (config: Config): SourceSettings => ({
  allowInsecure: config.allowInsecureSourceUrls,
  allowPrivate: config.allowPrivateSourceAddresses,
  timeoutMs: config.sourceTimeoutMs,
  deadlineMs: config.sourceDeadlineMs,
  caFile: config.sourceCaFile,
  maxBytes: config.maxFileSize,
});

/**
 * importFromUrl: the file is downloaded into the spool during the request, then checked and
 * queued exactly like an upload, so the job never needs the URL or the credentials again (the
 * job keeps only the file name). The source is opened only once the request and the tenant's
 * limits have passed, so a refused import fetches nothing.
 */
export async function importFromUrl(deps: ImportDeps, req: UrlImportRequest): Promise<ImportResult> {
  const settings = sourceSettings(deps.config);
  const source = parseSource({ url: req.url, s3: req.s3 }, settings);
  if (!source.ok) return source;
  try {
    return await importFile(deps, req, {
      filename: source.value.filename,
      field: ['input', 'url'],
      pastLimit: 'stop',
      holdsSlotWhileArriving: true,
      expectedBytes: null,
      open: () => openSource(source.value, settings),
      abandon: async () => {},
    });
  } catch (err) {
    // The download broke off (connection lost, the source went silent): the source's fault, not ours.
    if (err instanceof UploadStreamError) {
      return { ok: false, code: 'INVALID_INPUT', message: `Downloading ${describeSource(source.value)} failed: ${err.message}`, field: ['input', 'url'] };
    }
    throw err;
  }
}

interface FileSource {
  filename: string | null;
  /** The input field that file errors (size, format, header) point at. */
  field: string[];
  pastLimit: 'drain' | 'stop';
  /**
   * A download we make (importFromUrl) holds one of the tenant's active-job slots while it
   * arrives, so one tenant cannot start many at once. Uploads don't: the client pays for its own
   * bytes, and a client retrying right after cutting an upload off must not find its slot taken
   * until the server has noticed.
   */
  holdsSlotWhileArriving: boolean;
  /** About how large the file is, if known: which spare file to write it over (spoolSpares.ts). */
  expectedBytes: number | null;
  /** Called once the request and the tenant's limits have passed. */
  open(): Promise<OpenedSource>;
  /** Called instead of open() when the import is refused before. */
  abandon(): Promise<void>;
}

async function importFile(deps: ImportDeps, req: ImportOptions & Pick<UploadRequest, 'confirmRequest'>, source: FileSource): Promise<ImportResult> {
  const refuse = async (error: UserError): Promise<ImportResult> => {
    await source.abandon();
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
  // Downloads still arriving count too: otherwise one tenant could start many 1 GiB downloads at
  // once, each refused only once it is on our disk.
  if ((await countActiveJobs(deps.db, req.tenantId)) + (downloading.get(req.tenantId) ?? 0) >= deps.config.maxActiveJobsPerTenant) {
    return refuse(inProgress);
  }
  if (!source.holdsSlotWhileArriving) return spoolAndQueue(deps, req, source, kind, inProgress);
  downloading.set(req.tenantId, (downloading.get(req.tenantId) ?? 0) + 1);
  try {
    return await spoolAndQueue(deps, req, source, kind, inProgress);
  } finally {
    const left = downloading.get(req.tenantId)! - 1;
    if (left > 0) downloading.set(req.tenantId, left);
    else downloading.delete(req.tenantId);
  }
}

/** Per tenant, the importFromUrl downloads this process is receiving now, not yet jobs. */
const downloading = new Map<string, number>();

async function spoolAndQueue(
  deps: ImportDeps, req: ImportOptions & Pick<UploadRequest, 'confirmRequest'>, source: FileSource, kind: ImportKind, inProgress: UserError,
): Promise<ImportResult> {
  const opened = await source.open();
  if (!opened.ok) return opened;
  const spooled = await spoolUpload(opened.stream, deps.config.spoolDir, deps.config.maxFileSize, source.pastLimit, {
    maxSpares: deps.config.spoolRetentionMs === 0 ? deps.config.spoolSpareFiles : 0,
    expectedBytes: source.expectedBytes,
  });
  if (!spooled.ok) return { ok: false, code: spooled.code, message: spooled.message, field: source.field };

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
        field: source.field,
      });
    }
  }
  const inspection = await inspectFile(spooled.path, { filename: source.filename, format: req.format, kind });
  if (!inspection.ok) return discard({ code: inspection.code, message: inspection.message, field: source.field });

  if (kind.name === 'LOCATIONS' && req.locationType == null && !inspection.columns.some((name) => normalizeColumnName(name) === 'type')) {
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
    filename: source.filename,
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
