/**
 * Staged uploads: createStagedUpload, stagedUpload(id) (also a Node) and importStagedUpload. The
 * flow, for a client: create one with the file's name, size (and SHA-256), PUT each part to its
 * URL (any order, several at once, again on failure), ask stagedUpload which parts arrived after
 * an interruption, then importStagedUpload with the import's options.
 */
import { importStagedUpload } from '../../intake/stagedUploads/stagedImport.js';
import { createStagedUpload, findStagedUpload, stagedParts, type StagedDeps, type StagedPart } from '../../intake/stagedUploads/stagedUploadService.js';
import type { StagedUploadRow } from '../../intake/stagedUploads/stagedUploadRows.js';
import type { UserError } from '../../intake/userErrors.js';
import type { AppContext } from '../context.js';
import { builder } from './builder.js';
import { stagedUploadIdArgument } from './globalIdArgs.js';
import { asRequestErrors, fileImportFields, fileImportOptions, ImportPayloadRef, toPayload } from './imports.js';
import { UserErrorRef } from './userError.js';

const stagedDeps = (ctx: AppContext): StagedDeps => ({ db: ctx.db, config: ctx.config, staged: ctx.staged, s3Staged: ctx.s3Spool !== null });

const StagedUploadPartRef = builder.objectRef<StagedPart>('StagedUploadPart').implement({
  description: 'One part of a staged upload: PUT exactly its bytes (part n starts at (n - 1) * partSize) to url',
  fields: (t) => ({
    number: t.exposeInt('number', { description: '1-based' }),
    url: t.exposeString('url', { description: 'Takes an HTTP PUT of the part, with its exact Content-Length; valid until expiresAt' }),
    received: t.exposeBoolean('received', { description: 'The whole part has arrived' }),
  }),
});

const StagedUploadRef = builder.node(builder.objectRef<StagedUploadRow>('StagedUpload'), {
  description: 'A file sent in parts straight to storage, then imported with importStagedUpload',
  id: { resolve: (upload) => upload.id },
  loadOne: (id, ctx) => findStagedUpload(stagedDeps(ctx), ctx.tenant.id, id),
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'signingKey' in value,
  fields: (t) => ({
    filename: t.exposeString('filename'),
    fileSize: t.float({ resolve: (u) => u.fileSize }),
    partSize: t.float({ resolve: (u) => u.partSize, description: 'Every part but the last has this many bytes' }),
    expiresAt: t.field({ type: 'DateTime', resolve: (u) => u.expiresAt }),
    parts: t.field({ type: [StagedUploadPartRef], resolve: (u, _args, ctx) => stagedParts(stagedDeps(ctx), u, ctx.origin) }),
  }),
});

const StagedUploadPayloadRef = builder.objectRef<{ stagedUpload: StagedUploadRow | null; userErrors: UserError[] }>('StagedUploadPayload').implement({
  fields: (t) => ({
    stagedUpload: t.field({ type: StagedUploadRef, nullable: true, resolve: (p) => p.stagedUpload }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (p) => p.userErrors }),
  }),
});

const CreateStagedUploadInput = builder.inputType('CreateStagedUploadInput', {
  fields: (t) => ({
    filename: t.string({ required: true, description: 'Its extension (.csv, .ndjson) gives the format unless importStagedUpload says' }),
    fileSize: t.float({ required: true, description: 'In bytes' }),
    sha256: t.string({ description: 'Hex; checked against the file before it is imported, and a file the tenant imported before is refused at once' }),
    allowDuplicateFile: t.boolean({ description: 'Send a file whose sha256 the tenant imported before' }),
  }),
});

const ImportStagedUploadInput = builder.inputType('ImportStagedUploadInput', {
  fields: (t) => ({
    stagedUploadId: t.id({ required: true }),
    ...fileImportFields(t),
  }),
});

builder.queryFields((t) => ({
  stagedUpload: t.field({
    type: StagedUploadRef,
    nullable: true,
    description: "One of the tenant's staged uploads, with which parts have arrived; null once it has expired or been imported",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => findStagedUpload(stagedDeps(ctx), ctx.tenant.id, stagedUploadIdArgument(String(id), 'stagedUpload')),
  }),
}));

builder.mutationFields((t) => ({
  createStagedUpload: t.field({
    type: StagedUploadPayloadRef,
    description: 'Starts a staged upload: the file is then PUT in parts to the URLs it lists, and imported with importStagedUpload',
    args: { input: t.arg({ type: CreateStagedUploadInput, required: true }) },
    resolve: (_root, { input }, ctx) => asRequestErrors(ctx.log, async () => {
      const result = await createStagedUpload(stagedDeps(ctx), { tenantId: ctx.tenant.id, ...input });
      return result.ok
        ? { stagedUpload: result.upload, userErrors: [] }
        : { stagedUpload: null, userErrors: [{ code: result.code, message: result.message, field: result.field }] };
    }),
  }),
  importStagedUpload: t.field({
    type: ImportPayloadRef,
    description: 'Imports a staged upload whose parts have all arrived, with the checks of uploadImport',
    args: { input: t.arg({ type: ImportStagedUploadInput, required: true }) },
    resolve: (_root, { input }, ctx) => asRequestErrors(ctx.log, async () => toPayload(await importStagedUpload({ ...ctx, ...stagedDeps(ctx) }, {
      ...fileImportOptions(ctx, input),
      stagedUploadId: stagedUploadIdArgument(String(input.stagedUploadId), 'input.stagedUploadId'),
    }))),
  }),
}));
