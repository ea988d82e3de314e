/**
 * Starting an import from a file (uploaded, fetched from a URL, or records of importBatch): the
 * checks that come before a job exists (kind, options, a declared size, the tenant's limits and
 * the spool's room, all before the file's first byte is read; then size, format, header), then
 * the QUEUED job. Expected failures are values with a UserErrorCode; the resolver turns them into
 * `userErrors`. A spool without room throws SpoolFullError (the server's condition: a 503).
 */
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { Readable } from 'node:stream';
import { createJobWithinLimit, findSameFile, getJobById, type Job } from '../jobs/jobStore.js';
import { isTerminal } from '../jobs/states.js';
import { jobGlobalId } from '../jobs/globalIds.js';
import type { ProgressBus } from '../progress/progressBus.js';
import type { Metrics } from '../ops/metrics.js';
import type { FileFormat } from '../parse/types.js';
import { KINDS } from '../kinds/index.js';
import type { ImportKind } from '../kinds/types.js';
import { jobOptionsFor, refuseMissingOptions, refuseOptions } from '../kinds/options.js';
import { roomStep, sourceFailure, tooLargeMessage, UploadStreamError } from '../spool/spool.js';
import { shareRoom } from '../spool/sharedRoom.js';
import type { UploadStore } from './uploadStore.js';
import { jobsInProgressMessage, reserveArrival, SpoolFullError, type Arrival } from '../spool/spoolReservations.js';
import type { UserError } from './userErrors.js';
import type { SourceSettings } from './sources/network.js';
import { describeSource, openSource, parseSource, type OpenedSource, type S3Credentials } from './sources/urlSource.js';
import { recordLine } from './recordLines.js';
import { sheetRefused, type FileReading, type Inspection } from './inspect.js';
import { decodeArrival } from './fileDecoding.js';
import type { TextEncoding } from './textDecoding.js';
import { notUtf8Message } from '../spool/utf8Check.js';
import { canonicalMapping, MAX_MAPPING_NAME_LENGTH, refuseMapping, type ColumnMappingEntry } from '../kinds/columnMapping.js';
import { refuseDelimiter } from '../parse/csvDialect.js';
import { listColumnMappings, refuseSavingMapping, saveColumnMapping } from './columnMappingStore.js';

export type { UserError, UserErrorCode } from './userErrors.js';

export type ImportResult = { ok: true; job: Job } | ({ ok: false } & UserError);

export interface ImportDeps { db: Database; bus: ProgressBus; config: Config; metrics: Metrics; uploads: UploadStore }

/** What every file import is asked for, whatever brings the file. */
export interface ImportOptions {
  tenantId: string;
  kind: string;
  collection?: string | null;
  /** LOCATIONS only: the type of every location in the file (GraphQL's LocationType, e.g. DISTRICT). */
  locationType?: string | null;
  format?: FileFormat | null;
  /** The text's encoding when not UTF-8 (UTF-16 with a BOM is recognised without it). */
  encoding?: TextEncoding | null;
  /** XLSX: the sheet to import (default: the first). */
  sheet?: string | null;
  dryRun?: boolean | null;
  maxErrors?: number | null;
  allowDuplicateFile?: boolean | null;
  /** CSV: the delimiter; detected from the header line when absent. */
  delimiter?: string | null;
  /** The kind's column for each of the file's (or null: ignore it), in any format; a saved mapping whose headers are the file's when absent. */
  columnMapping?: readonly ColumnMappingEntry[] | null;
  /** Saves columnMapping under this name for the tenant, once the job exists. */
  saveMappingAs?: string | null;
}

export interface UploadRequest extends ImportOptions {
  /** The file, once its bytes begin; asked for only once the request and the tenant's limits have passed. */
  receive(): Promise<{ stream: Readable; filename: string | null }>;
  /**
   * At most how many bytes the file has, when known: for an upload, the request's Content-Length
   * less its other parts (so the file's own part head is counted in).
   */
  declaredBytes?: number | null;
  /** Called once the file is spooled, before the job is created: a last word on the request. */
  confirmRequest?: () => Promise<UserError | null>;
  /** Called when the file is refused before it has been read to its end: the rest of it is not wanted. */
  abandon?: () => void;
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
  const ndjson = Buffer.from(req.records.map(recordLine).join('\n') + '\n');
  const result = await importUpload(deps, {
    tenantId: req.tenantId,
    receive: async () => ({ stream: Readable.from([ndjson]), filename: null }),
    declaredBytes: ndjson.length,
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
    field: ['input', 'file'],
    declaredBytes: req.declaredBytes ?? null,
    open: async () => ({ ok: true, ...(await req.receive()) }),
    abandon: req.abandon ?? (() => {}),
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
      field: ['input', 'url'],
      declaredBytes: null,
      open: async () => {
        const opened = await openSource(source.value, settings);
        return opened.ok ? { ...opened, filename: source.value.filename } : opened;
      },
      abandon: () => {},
    });
  } catch (err) {
    // The download broke off (connection lost, the source went silent): the source's fault, not ours.
    if (err instanceof UploadStreamError) {
      return { ok: false, code: 'INVALID_INPUT', message: `Downloading ${describeSource(source.value)} failed: ${err.message}`, field: ['input', 'url'] };
    }
    throw err;
  }
}

/**
 * The part headers and boundaries around an uploaded file, which its declared size counts in (a
 * part head may take 16 KiB): a declared size over the limit by more than this is a file over it.
 */
const PART_HEAD_ALLOWANCE = 64 * 1024;

export interface FileSource {
  /** The input field that file errors (size, format, header) point at. */
  field: string[];
  /** At most how many bytes the file has, if known: it reserves that much room, and picks the spare to write over (spoolSpares.ts). */
  declaredBytes: number | null;
  /** Called once the request and the tenant's limits have passed. */
  open(): Promise<(OpenedSource & { ok: false }) | { ok: true; stream: Readable; filename: string | null }>;
  /** Called when the file is refused before it has been read to its end (not awaited: the answer goes first). */
  abandon(): void;
}

/** Why the kind and options don't make sense together, if they don't. */
export function checkOptions(req: ImportOptions): UserError | null {
  const kind = KINDS[req.kind];
  if (!kind) return { code: 'INVALID_INPUT', message: `Import kind ${req.kind} is not supported yet`, field: ['input', 'kind'] };
  if (req.maxErrors != null && req.maxErrors < 0) {
    return { code: 'INVALID_INPUT', message: 'maxErrors must be 0 or more', field: ['input', 'maxErrors'] };
  }
  const refused = refuseOptions(kind, req);
  if (refused) return { code: 'INVALID_INPUT', message: refused.message, field: ['input', refused.option] };
  // A format given as text refuses sheet before a byte is read; one found from the file, once it is known (decodeArrival, inspect).
  if (req.sheet != null && req.format && req.format !== 'XLSX') return userError(sheetRefused(req.format));
  return checkReadingOptions(kind, req);
}

const userError = ({ code, message, field }: UserError): UserError => ({ code, message, field });

/** The delimiter, the column mapping and the name to save it as. */
function checkReadingOptions(kind: ImportKind, req: ImportOptions): UserError | null {
  const delimiterRefused = req.delimiter != null ? refuseDelimiter(req.delimiter) : null;
  if (delimiterRefused) return { code: 'INVALID_INPUT', message: delimiterRefused, field: ['input', 'delimiter'] };
  const mappingRefused = req.columnMapping ? refuseMapping(kind, req.columnMapping) : null;
  if (mappingRefused) return { code: 'INVALID_INPUT', message: mappingRefused, field: ['input', 'columnMapping'] };
  if (req.saveMappingAs != null) {
    const name = req.saveMappingAs;
    if (!req.columnMapping) return { code: 'INVALID_INPUT', message: 'saveMappingAs saves the columnMapping sent with it; send one', field: ['input', 'saveMappingAs'] };
    if (name.trim() === '' || name !== name.trim() || name.length > MAX_MAPPING_NAME_LENGTH) {
      return { code: 'INVALID_INPUT', message: `saveMappingAs must be a name of 1 to ${MAX_MAPPING_NAME_LENGTH} characters, without spaces at either end`, field: ['input', 'saveMappingAs'] };
    }
  }
  return null;
}

/**
 * Everything that can refuse the file before its first byte is read (options, declared size,
 * the tenant's limits, the spool's room) comes first and answers at once; only then is the file
 * opened and spooled, into the room reserved for it, which is held until its job exists.
 */
export async function importFile(deps: ImportDeps, req: ImportOptions & Pick<UploadRequest, 'confirmRequest'>, source: FileSource): Promise<ImportResult> {
  const refuse = (error: UserError): ImportResult => {
    source.abandon();
    return { ok: false, ...error };
  };
  const wrong = checkOptions(req);
  if (wrong) return refuse(wrong);
  const kind = KINDS[req.kind]!;
  const { maxFileSize } = deps.config;
  if (source.declaredBytes !== null && source.declaredBytes - PART_HEAD_ALLOWANCE > maxFileSize) {
    return refuse({ code: 'FILE_TOO_LARGE', message: tooLargeMessage(maxFileSize), field: source.field });
  }
  const file = deps.uploads.newLocation();
  let arrival: Awaited<ReturnType<typeof reserveArrival>>;
  try {
    arrival = await reserveArrival({ ...deps, storedSizes: deps.uploads.storedSizes, diskDir: deps.uploads.diskDir }, { tenantId: req.tenantId, file, bytes: source.declaredBytes });
  } catch (err) {
    source.abandon();
    throw err;
  }
  if (!('release' in arrival)) return refuse(arrival);
  try {
    return await spoolAndQueue(deps, req, source, kind, file, arrival);
  } finally {
    await arrival.release();
  }
}

async function spoolAndQueue(
  deps: ImportDeps, req: ImportOptions & Pick<UploadRequest, 'confirmRequest'>, source: FileSource, kind: ImportKind, file: string, room: Arrival,
): Promise<ImportResult> {
  const opened = await source.open();
  if (!opened.ok) return opened;
  // What the file keeps on disk while it is decoded comes out of the same room as the file itself.
  const shares = shareRoom(room, { dir: deps.uploads.scratchDir, owner: file, step: roomStep(deps.config.maxUncompressedSize) });
  let decoded: Awaited<ReturnType<typeof decodeArrival>>;
  try {
    decoded = await decodeArrival(opened.stream, {
      filename: opened.filename, format: req.format, encoding: req.encoding, sheet: req.sheet,
      maxFileSize: deps.config.maxFileSize, maxUncompressedSize: deps.config.maxUncompressedSize, maxXlsxSharedStrings: deps.config.maxXlsxSharedStrings,
      scratch: shares.scratch,
    });
  } catch (err) {
    source.abandon();
    throw err instanceof Error ? sourceFailure(err) : err;
  }
  if (!decoded.ok) {
    source.abandon();
    return { ...decoded, field: decoded.field ?? source.field };
  }
  let spooled: Awaited<ReturnType<UploadStore['spool']>>;
  try {
    spooled = await deps.uploads.spool(decoded.stream, {
      file,
      maxBytes: decoded.maxBytes,
      room: shares.spooled,
      spares: { maxSpares: deps.config.spoolRetentionMs === 0 ? deps.config.spoolSpareFiles : 0, expectedBytes: decoded.sentSha256 ? null : source.declaredBytes },
    });
  } catch (err) {
    source.abandon(); // broken off: the rest of it is not wanted
    throw err;
  }
  if (!spooled.ok) {
    source.abandon(); // cut off at a limit: the rest of it is not wanted
    if (spooled.code === 'SPOOL_FULL') throw new SpoolFullError();
    return { ok: false, code: spooled.code, message: spooled.message, field: source.field };
  }
  const filename = opened.filename;
  const spooledPath = spooled.path;
  // A decoded file's hash is the one of the bytes sent, so sending the same file again is found.
  const sha256 = decoded.sentSha256?.() ?? spooled.sha256;
  return queueSpooledFile(deps, req, kind, { path: spooledPath, size: spooled.size, sha256, filename }, {
    field: source.field,
    fileError: spooled.notUtf8 ? { code: 'INVALID_FILE', message: notUtf8Message(spooled.notUtf8) } : undefined,
    inspect: (reading) => deps.uploads.inspect(spooledPath, { filename: decoded.filename, format: decoded.format, kind, ...reading }),
    giveUp: () => deps.uploads.discard(spooledPath),
  });
}

/** A whole file in the spool, with what was measured as it arrived (sha256: of the bytes sent). */
export interface SpooledFile { path: string; size: number; sha256: string; filename: string | null }

export interface QueueSteps {
  /** The input field that file errors (format, header, duplicate) point at. */
  field: string[];
  /** What was found wrong with the file as it was spooled (not valid in its encoding); refused after the request's own objection. */
  fileError?: Omit<UserError, 'field'>;
  /** Format and header against the kind, read the way the request says (delimiter, column mapping). */
  inspect(reading: FileReading): Promise<Inspection>;
  /** Called when the file is refused: what becomes of it (an upload's is removed; a staged upload's stays, to be imported again). */
  giveUp(): Promise<void>;
}

/**
 * The checks on a file that is all in the spool, then its QUEUED job: the request's last word,
 * DUPLICATE_FILE, format and header against the kind, missing options, and the tenant's active
 * jobs (IMPORT_IN_PROGRESS). Every file import ends here, whatever brought the file.
 */
export async function queueSpooledFile(
  deps: ImportDeps, req: ImportOptions & Pick<UploadRequest, 'confirmRequest'>, kind: ImportKind, spooled: SpooledFile, steps: QueueSteps,
): Promise<ImportResult> {
  const discard = async (error: UserError): Promise<ImportResult> => {
    await steps.giveUp();
    return { ok: false, ...error };
  };
  // Until its job row is written no one will run the file: a step that fails (the database away)
  // gives it up. The job's own insert may have committed when it fails: that file is the sweep's.
  const beforeJob = async <T>(step: () => Promise<T>): Promise<T> => {
    try { return await step(); } catch (err) { await steps.giveUp().catch(() => {}); throw err; }
  };
  const objection = await beforeJob(async () => req.confirmRequest?.());
  if (objection) return discard(objection);
  if (steps.fileError) return discard({ ...steps.fileError, field: steps.field });
  if (!req.allowDuplicateFile && !req.dryRun) {
    const earlier = await beforeJob(() => findSameFile(deps.db, req.tenantId, kind.name, spooled.sha256, jobOptionsFor(kind, req), req.sheet ?? null));
    if (earlier) {
      return discard({
        code: 'DUPLICATE_FILE',
        message: `This file was already imported as ${kind.name} (job ${jobGlobalId(earlier)}); send allowDuplicateFile: true to import it again`,
        field: steps.field,
      });
    }
  }
  const columnMapping = req.columnMapping ? canonicalMapping(kind, req.columnMapping) : null;
  // Sent without a mapping, a file (any format) may have a saved one: its column names say which.
  const savedMappings = columnMapping || kind.fromRecord ? [] : await beforeJob(() => listColumnMappings(deps.db, req.tenantId, kind.name));
  const inspection = await beforeJob(() => steps.inspect({ delimiter: req.delimiter, columnMapping, savedMappings, sheet: req.sheet }));
  if (!inspection.ok) {
    const { code, message, field, fileColumns } = inspection;
    return discard({ code, message, field: field ?? steps.field, ...(fileColumns ? { fileColumns } : {}) });
  }
  const { csv, mapping } = inspection;
  const saveAs = req.saveMappingAs && !req.dryRun && mapping.columnMapping ? req.saveMappingAs : null;

  const missing = refuseMissingOptions(kind, req, inspection.columns);
  if (missing) return discard({ code: 'INVALID_INPUT', message: missing.message, field: ['input', missing.option] });
  const unsaveable = saveAs ? await beforeJob(() => refuseSavingMapping(deps.db, req.tenantId, saveAs, inspection.fileColumns)) : null;
  if (unsaveable) return discard({ code: 'INVALID_INPUT', message: unsaveable, field: ['input', 'saveMappingAs'] });

  const job = await createJobWithinLimit(deps.db, {
    tenantId: req.tenantId,
    kind: kind.name,
    options: jobOptionsFor(kind, req),
    format: inspection.format,
    dryRun: req.dryRun ?? false,
    maxErrors: req.maxErrors,
    filename: spooled.filename,
    fileSize: spooled.size,
    fileSha256: spooled.sha256,
    spoolPath: spooled.path,
    header: inspection.header,
    delimiter: csv && csv.delimiter !== ',' ? csv.delimiter : null,
    columnMapping: mapping.columnMapping,
    columnMappingName: saveAs ?? mapping.columnMappingName,
    sheet: req.sheet ?? null,
  }, deps.config.maxActiveJobsPerTenant);
  if (!job) {
    return discard({ code: 'IMPORT_IN_PROGRESS', message: jobsInProgressMessage(deps.config.maxActiveJobsPerTenant) });
  }
  if (saveAs) await saveColumnMapping(deps.db, req.tenantId, { name: saveAs, kind: kind.name, mapping: mapping.columnMapping!, headers: inspection.fileColumns });
  deps.metrics.bytesUploaded.inc(spooled.size);
  await deps.bus.publishQueued(job.id);
  return { ok: true, job };
}
