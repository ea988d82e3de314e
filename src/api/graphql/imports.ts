/** The mutations that start an import: uploadImport (multipart), importBatch and importFromUrl. */
import type { FileUpload, Upload } from 'graphql-upload-minimal';
import { GraphQLError } from 'graphql';
import { importFromUrl, importRecords, importUpload, type ImportOptions, type ImportResult, type UserError } from '../../intake/importService.js';
import { UploadStreamError } from '../../spool/spool.js';
import { multipartShapeOf } from '../http/uploadPlugin.js';
import type { AppContext } from '../context.js';
import type { Job } from '../../jobs/jobStore.js';
import { builder } from './builder.js';
import { ImportFormatEnum, ImportKindEnum, LocationTypeEnum } from './enums.js';
import { JobRef } from './job.js';
import { UserErrorRef } from './userError.js';

interface ImportPayloadShape { job: Job | null; userErrors: UserError[] }

const ImportPayloadRef = builder.objectRef<ImportPayloadShape>('ImportPayload').implement({
  description: 'The queued job, or why there is none',
  fields: (t) => ({
    job: t.field({ type: JobRef, nullable: true, resolve: (p) => p.job }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (p) => p.userErrors }),
  }),
});

const toPayload = (result: ImportResult): ImportPayloadShape =>
  result.ok ? { job: result.job, userErrors: [] } : { job: null, userErrors: [{ code: result.code, message: result.message, field: result.field }] };

const UploadImportInput = builder.inputType('UploadImportInput', {
  fields: (t) => ({
    file: t.field({ type: 'Upload', required: true }),
    kind: t.field({ type: ImportKindEnum, required: true }),
    collection: t.string({ description: 'COLLECTION only' }),
    locationType: t.field({ type: LocationTypeEnum, description: 'LOCATIONS only' }),
    format: t.field({ type: ImportFormatEnum, description: 'Default: from the file name, then from the content' }),
    dryRun: t.boolean(),
    maxErrors: t.int(),
    allowDuplicateFile: t.boolean(),
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
    s3: t.field({ type: S3SourceInput, description: 's3:// URLs only' }),
    dryRun: t.boolean(),
    maxErrors: t.int(),
    allowDuplicateFile: t.boolean(),
  }),
});

/**
 * A multipart body that turns out malformed only once the file streams (a file part missing, a
 * body cut before its closing boundary, a second file) fails inside the resolver: answer it as
 * the client's error (400, with the parser's message), not as an unexpected one.
 */
async function badUploadAs400<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const status = (err as { status?: unknown }).status;
    if (err instanceof UploadStreamError || (typeof status === 'number' && status >= 400 && status < 500)) {
      throw new GraphQLError(`Invalid multipart request: ${(err as Error).message}`, {
        extensions: { code: 'BAD_REQUEST', http: { status: typeof status === 'number' ? status : 400 } },
      });
    }
    throw err;
  }
}

const ONE_FILE_PARTS = 3; // operations, map, the file

/**
 * Waits for the request's end (the file is already spooled: only its closing boundary is left)
 * and refuses a request with more parts than operations, map and one file, as the multipart
 * parser does when it meets the extra part in time (400, no job).
 */
async function exactlyOneFile(req: AppContext['req']): Promise<null> {
  const shape = multipartShapeOf(req);
  if (!shape) return null;
  await Promise.race([shape.ended, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
  if (shape.parts() > ONE_FILE_PARTS) throw new UploadStreamError('1 max file uploads exceeded: an upload carries exactly one file');
  return null;
}

/** The request's announced length, which bounds the file's (absent for a chunked upload). */
function contentLength(req: AppContext['req']): number | null {
  const length = Number(req?.headers['content-length']);
  return Number.isSafeInteger(length) && length >= 0 ? length : null;
}

async function fileOf(upload: Promise<FileUpload> | Upload): Promise<FileUpload> {
  return 'promise' in upload ? upload.promise : upload;
}

/** The options uploadImport and importFromUrl share, whatever brings the file. */
function fileImportOptions(ctx: AppContext, input: Omit<ImportOptions, 'tenantId'>): ImportOptions {
  return {
    tenantId: ctx.tenant.id,
    kind: input.kind,
    collection: input.collection,
    locationType: input.locationType,
    format: input.format,
    dryRun: input.dryRun,
    maxErrors: input.maxErrors,
    allowDuplicateFile: input.allowDuplicateFile,
  };
}

builder.mutationFields((t) => ({
  uploadImport: t.field({
    type: ImportPayloadRef,
    description: 'Uploads a CSV or NDJSON file (GraphQL multipart request) and queues its import',
    args: { input: t.arg({ type: UploadImportInput, required: true }) },
    resolve: async (_root, { input }, ctx) => badUploadAs400(async () => {
      let file: FileUpload;
      let stream: ReturnType<FileUpload['createReadStream']>;
      try {
        file = await fileOf(input.file);
        stream = file.createReadStream();
      } catch (err) {
        // Anything wrong before the file even streams is in the request itself.
        throw new UploadStreamError((err as Error).message);
      }
      return toPayload(await importUpload(ctx, {
        ...fileImportOptions(ctx, input),
        confirmRequest: () => exactlyOneFile(ctx.req),
        stream,
        filename: file.filename ?? null,
        expectedBytes: contentLength(ctx.req),
      }));
    }),
  }),
  importBatch: t.field({
    type: ImportPayloadRef,
    args: { input: t.arg({ type: ImportBatchInput, required: true }) },
    description: 'Imports up to 5,000 records sent in the request, and answers with the finished job',
    resolve: async (_root, { input }, ctx) => toPayload(await importRecords(ctx, {
      tenantId: ctx.tenant.id,
      kind: input.kind,
      collection: input.collection,
      locationType: input.locationType,
      records: input.records,
      dryRun: input.dryRun,
      maxErrors: input.maxErrors,
    })),
  }),
  importFromUrl: t.field({
    type: ImportPayloadRef,
    args: { input: t.arg({ type: ImportFromUrlInput, required: true }) },
    description: 'Downloads a file from an https:// URL or s3://bucket/key during the request, and queues its import',
    resolve: async (_root, { input }, ctx) => toPayload(await importFromUrl(ctx, {
      ...fileImportOptions(ctx, input),
      url: input.url,
      s3: input.s3,
    })),
  }),
}));
