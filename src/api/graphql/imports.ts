/** The mutations that start an import: uploadImport (multipart), importBatch and importFromUrl. */
import type { FileUpload, Upload } from 'graphql-upload-minimal';
import { GraphQLError } from 'graphql';
import { importFromUrl, importRecords, importUpload, type ImportOptions, type ImportResult, type UserError } from '../../intake/importService.js';
import type { Readable } from 'node:stream';
import { UploadStreamError } from '../../spool/spool.js';
import { DiskFullError, SpoolFullError } from '../../spool/spoolReservations.js';
import { SpoolStoreError } from '../../spool/s3Upload.js';
import { ServerDiskError } from '../../spool/diskFailure.js';
import type { Logger } from '../../logger.js';
import { MultipartError, multipartBodyOf, type MultipartBody } from '../http/multipartRequest.js';
import type { AppContext } from '../context.js';
import type { Job } from '../../jobs/jobStore.js';
import { builder } from './builder.js';
import { ImportFormatEnum, ImportKindEnum, LocationTypeEnum, TextEncodingEnum } from './enums.js';
import { JobRef } from './job.js';
import { UserErrorRef } from './userError.js';
import { csvReadingFields, type InputFields } from './columnMappings.js';

interface ImportPayloadShape { job: Job | null; userErrors: UserError[] }

export const ImportPayloadRef = builder.objectRef<ImportPayloadShape>('ImportPayload').implement({
  description: 'The queued job, or why there is none',
  fields: (t) => ({
    job: t.field({ type: JobRef, nullable: true, resolve: (p) => p.job }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (p) => p.userErrors }),
  }),
});

export const toPayload = (result: ImportResult): ImportPayloadShape => {
  if (result.ok) return { job: result.job, userErrors: [] };
  const { ok: _refused, ...error } = result;
  return { job: null, userErrors: [error] };
};

export const ENCODING_HELP = 'The text\'s encoding when it is not UTF-8 (Excel\'s "CSV" on Windows is WINDOWS_1252); UTF-16 with a BOM is recognised without it';
export const SHEET_HELP = 'XLSX: the sheet to import; default: the first. Refused (INVALID_INPUT) for a file that is not a workbook';

/** What every import of a whole file takes besides the file itself (uploadImport, importStagedUpload). */
export const fileImportFields = (t: InputFields) => ({
  kind: t.field({ type: ImportKindEnum, required: true }),
  collection: t.string({ description: 'COLLECTION only' }),
  locationType: t.field({ type: LocationTypeEnum, description: 'LOCATIONS only' }),
  format: t.field({ type: ImportFormatEnum, description: 'Default: from the file name, then from the content' }),
  encoding: t.field({ type: TextEncodingEnum, description: ENCODING_HELP }),
  sheet: t.string({ description: SHEET_HELP }),
  dryRun: t.boolean(),
  maxErrors: t.int(),
  allowDuplicateFile: t.boolean(),
  ...csvReadingFields(t),
});

const UploadImportInput = builder.inputType('UploadImportInput', {
  fields: (t) => ({
    file: t.field({ type: 'Upload', required: true }),
    ...fileImportFields(t),
  }),
});

const S3SourceInput = builder.inputType('S3SourceInput', {
  description: 'Credentials for one s3:// import: used for its download during the request, never stored or logged',
  fields: (t) => ({
    accessKeyId: t.string({ required: true }),
    secretAccessKey: t.string({ required: true }),
    region: t.string({ description: 'Default: us-east-1 (on AWS, a wrong region is followed to the bucket\'s own)' }),
    endpoint: t.string({ description: 'An S3-compatible store (MinIO, R2, ...), e.g. https://minio.example.com:9000; addressed path-style' }),
  }),
});

const ImportBatchInput = builder.inputType('ImportBatchInput', {
  fields: (t) => ({
    kind: t.field({ type: ImportKindEnum, required: true }),
    collection: t.string(),
    locationType: t.field({ type: LocationTypeEnum }),
    records: t.field({ type: ['JSON'], required: true }),
    dryRun: t.boolean(),
    maxErrors: t.int(),
  }),
});

const ImportFromUrlInput = builder.inputType('ImportFromUrlInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'https://... or s3://bucket/key; the file name (for the format) is the last segment of its path' }),
    kind: t.field({ type: ImportKindEnum, required: true }),
    collection: t.string(),
    locationType: t.field({ type: LocationTypeEnum }),
    format: t.field({ type: ImportFormatEnum }),
    encoding: t.field({ type: TextEncodingEnum, description: ENCODING_HELP }),
    sheet: t.string({ description: SHEET_HELP }),
    s3: t.field({ type: S3SourceInput, description: 's3:// URLs only' }),
    dryRun: t.boolean(),
    maxErrors: t.int(),
    allowDuplicateFile: t.boolean(),
    ...csvReadingFields(t),
  }),
});

/**
 * Failures that are not the resolver's: a multipart body that turns out malformed only once the
 * file streams (a file part missing, a body cut before its closing boundary, a second file) is
 * the client's error (its 4xx, with the parser's message); a spool without room, the server's disk
 * full or failing under the upload (logged here, the path and the disk's error with it), or an S3
 * spool's store failing under the upload, is the server's condition (503, try again later). None
 * is an unexpected error. The hash thread failing on its own (HashThreadError) passes through: it
 * is the server's error, answered 500 INTERNAL where errors are masked (app.ts), with no retry hint.
 */
/** The server's condition, not the request's: 503 with `code`, to try again after `retryAfterS`. */
const unavailable = (message: string, code: string, retryAfterS: number) =>
  new GraphQLError(message, { extensions: { code, http: { status: 503, headers: { 'retry-after': String(retryAfterS) } } } });

export async function asRequestErrors<T>(log: Logger, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof SpoolFullError) {
      if (err instanceof DiskFullError) log.warn({ bytes: err.bytes, dir: err.dir }, 'the disk has no room for an upload of this size: refused before its first byte');
      throw unavailable(err.message, 'SPOOL_FULL', 60);
    }
    if (err instanceof ServerDiskError) {
      log.error({ err: err.cause, file: err.file }, err.full ? 'the disk is full: an upload was refused' : 'the disk failed under an upload');
      // A full disk is a full spool to the client (SPOOL_FULL, try again later); a broken one is the server's outage.
      throw unavailable(err.message, err.full ? 'SPOOL_FULL' : 'SERVICE_UNAVAILABLE', 60);
    }
    if (err instanceof SpoolStoreError) throw unavailable(err.message, 'SERVICE_UNAVAILABLE', 5);
    if (err instanceof MultipartError || err instanceof UploadStreamError) {
      throw new GraphQLError(`Invalid multipart request: ${err.message}`, {
        extensions: { code: 'BAD_REQUEST', http: { status: err instanceof MultipartError ? err.status : 400 } },
      });
    }
    throw err;
  }
}

/** How long a request whose file is spooled may take to send its closing boundary. */
const END_WAIT_MS = 10_000;

/**
 * Once the file is spooled only the closing boundary is left: waits for it, and refuses a request
 * that turns out malformed after its file (a second file part, a broken last part), or that does
 * not end, as the parser does when it meets the fault in time (4xx, no job).
 */
async function requestEnded(body: MultipartBody): Promise<null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, END_WAIT_MS, 'late'); });
  const outcome = await Promise.race([body.finished, late]).finally(() => clearTimeout(timer));
  if (outcome === 'late') {
    body.discardRest();
    throw new UploadStreamError(`The request did not end within ${END_WAIT_MS / 1000} s of its file`);
  }
  if (outcome) throw outcome;
  return null;
}

/** At most how many bytes the file has: the request's announced length less its other parts (none for a chunked upload). */
function declaredFileBytes(req: AppContext['req'], body: MultipartBody | undefined): number | null {
  const length = Number(req?.headers['content-length']);
  if (!body || !Number.isSafeInteger(length) || length < 0) return null;
  return Math.max(0, length - body.fieldBytes);
}

async function receiveFile(upload: Promise<FileUpload> | Upload): Promise<{ stream: Readable; filename: string | null }> {
  const file = await ('promise' in upload ? upload.promise : upload);
  return { stream: file.createReadStream(), filename: file.filename ?? null };
}

/** The options uploadImport and importFromUrl share, whatever brings the file. */
export function fileImportOptions(ctx: AppContext, input: Omit<ImportOptions, 'tenantId' | 'columnMapping'> & { columnMapping?: { from: string; to?: string | null }[] | null }): ImportOptions {
  return {
    tenantId: ctx.tenant.id,
    kind: input.kind,
    collection: input.collection,
    locationType: input.locationType,
    format: input.format,
    encoding: input.encoding,
    sheet: input.sheet,
    dryRun: input.dryRun,
    maxErrors: input.maxErrors,
    allowDuplicateFile: input.allowDuplicateFile,
    delimiter: input.delimiter,
    columnMapping: input.columnMapping?.map((m) => ({ from: m.from, to: m.to ?? null })),
    saveMappingAs: input.saveMappingAs,
  };
}

builder.mutationFields((t) => ({
  uploadImport: t.field({
    type: ImportPayloadRef,
    description: 'Uploads a CSV or NDJSON file (GraphQL multipart request) and queues its import',
    args: { input: t.arg({ type: UploadImportInput, required: true }) },
    resolve: async (_root, { input }, ctx) => asRequestErrors(ctx.log, async () => {
      const body = multipartBodyOf(ctx.req);
      return toPayload(await importUpload(ctx, {
        ...fileImportOptions(ctx, input),
        receive: () => receiveFile(input.file),
        declaredBytes: declaredFileBytes(ctx.req, body),
        confirmRequest: body && (() => requestEnded(body)),
        abandon: body && (() => body.discardRest()),
      }));
    }),
  }),
  importBatch: t.field({
    type: ImportPayloadRef,
    args: { input: t.arg({ type: ImportBatchInput, required: true }) },
    description: 'Imports up to 5,000 records sent in the request, and answers with the finished job',
    resolve: async (_root, { input }, ctx) => asRequestErrors(ctx.log, async () => toPayload(await importRecords(ctx, {
      tenantId: ctx.tenant.id,
      kind: input.kind,
      collection: input.collection,
      locationType: input.locationType,
      records: input.records,
      dryRun: input.dryRun,
      maxErrors: input.maxErrors,
    }))),
  }),
  importFromUrl: t.field({
    type: ImportPayloadRef,
    args: { input: t.arg({ type: ImportFromUrlInput, required: true }) },
    description: 'Downloads a file from an https:// URL or s3://bucket/key during the request, and queues its import',
    resolve: async (_root, { input }, ctx) => asRequestErrors(ctx.log, async () => toPayload(await importFromUrl(ctx, {
      ...fileImportOptions(ctx, input),
      url: input.url,
      s3: input.s3,
    }))),
  }),
}));
