/**
 * Staged uploads (createStagedUpload, stagedUpload): a file announced by name, size and maybe its
 * SHA-256, then sent in parts straight to storage (stagedStorage.ts), in any order, again after a
 * failure, and resumed from what has arrived. What can be refused before a byte travels is
 * refused here: the size limit, a file the tenant imported before, the spool's room.
 * importStagedUpload is stagedImport.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { findSameFileAnyKind } from '../../jobs/jobStore.js';
import { jobGlobalId } from '../../jobs/globalIds.js';
import { tooLargeMessage } from '../../spool/spool.js';
import { withSpoolRoom } from '../../spool/spoolReservations.js';
import type { UserError } from '../userErrors.js';
import { partCount, partSizeFor } from './partPlan.js';
import { newSigningKey } from './partSignature.js';
import type { StagedStorage } from './stagedStorage.js';
import { countLiveStagedUploads, getTenantStagedUpload, insertStagedUpload, type StagedUploadRow } from './stagedUploadRows.js';

export interface StagedDeps { db: Database; config: Config; staged: StagedStorage; s3Staged: boolean }

export interface CreateStagedRequest {
  tenantId: string;
  filename: string;
  fileSize: number;
  sha256?: string | null;
  allowDuplicateFile?: boolean | null;
}

export type StagedResult = { ok: true; upload: StagedUploadRow } | ({ ok: false } & UserError);

export interface StagedPart { number: number; url: string; received: boolean }

const MAX_FILENAME_LENGTH = 255;
/**
 * Staged uploads a tenant may have under way (not imported, not expired): each holds its file's
 * room in the spool until it expires, so one tenant must not be able to take all of it.
 */
export const MAX_LIVE_STAGED_UPLOADS = 10;

function checkRequest(req: CreateStagedRequest, config: Config): UserError | null {
  if (req.filename.length === 0 || req.filename.length > MAX_FILENAME_LENGTH || /[\u0000-\u001f\u007f/\\]/.test(req.filename)) {
    return { code: 'INVALID_INPUT', message: `filename must be 1 to ${MAX_FILENAME_LENGTH} characters, without control characters or slashes`, field: ['input', 'filename'] };
  }
  if (!Number.isSafeInteger(req.fileSize) || req.fileSize < 1) {
    return { code: 'INVALID_INPUT', message: 'fileSize must be the file\'s size in bytes, at least 1', field: ['input', 'fileSize'] };
  }
  if (req.fileSize > config.maxFileSize) return { code: 'FILE_TOO_LARGE', message: tooLargeMessage(config.maxFileSize), field: ['input', 'fileSize'] };
  if (req.sha256 != null && !/^[0-9a-fA-F]{64}$/.test(req.sha256)) {
    return { code: 'INVALID_INPUT', message: 'sha256 must be 64 hexadecimal digits', field: ['input', 'sha256'] };
  }
  return null;
}

export async function createStagedUpload(deps: StagedDeps, req: CreateStagedRequest): Promise<StagedResult> {
  const wrong = checkRequest(req, deps.config);
  if (wrong) return { ok: false, ...wrong };
  const sha256 = req.sha256?.toLowerCase() ?? null;
  if (sha256 && !req.allowDuplicateFile) {
    const earlier = await findSameFileAnyKind(deps.db, req.tenantId, sha256);
    if (earlier) {
      return {
        ok: false, code: 'DUPLICATE_FILE', field: ['input', 'sha256'],
        message: `This file was already imported as ${earlier.kind} (job ${jobGlobalId(earlier.id)}); send allowDuplicateFile: true to send it again`,
      };
    }
  }
  const atCap: StagedResult = {
    ok: false, code: 'IMPORT_IN_PROGRESS',
    message: `This tenant already has ${MAX_LIVE_STAGED_UPLOADS} staged uploads under way; import them, or wait for them to expire`,
  };
  // Counted here so that a tenant at its cap takes no room at all, and again as the row is inserted.
  if (await countLiveStagedUploads(deps.db, req.tenantId) >= MAX_LIVE_STAGED_UPLOADS) return atCap;
  const partSize = partSizeFor(req.fileSize);
  // A folder spool's file takes its whole size at once: weighed against the spool's room like an
  // arriving upload (SPOOL_MAX_BYTES); an S3 store's room is the store's.
  const begun = deps.s3Staged
    ? await deps.staged.begin(req.fileSize)
    : await withSpoolRoom({ ...deps, diskDir: deps.config.spoolDir }, req.fileSize, () => deps.staged.begin(req.fileSize));
  const row = {
    id: randomUUID(), tenantId: req.tenantId, filename: req.filename, fileSize: req.fileSize, partSize, sha256,
    location: begun.location, s3UploadId: begun.s3UploadId, signingKey: newSigningKey(), ttlMs: deps.config.stagedUploadTtlMs,
  };
  let upload: StagedUploadRow | null = null;
  try {
    upload = await insertStagedUpload(deps.db, row, MAX_LIVE_STAGED_UPLOADS);
  } finally {
    // Refused (another create took the last place meanwhile) or failed: what was begun goes.
    if (!upload) await deps.staged.discard({ ...row, receivedParts: [], completed: false, read: null, decodeAgainAt: null, jobId: null, expiresAt: new Date() });
  }
  if (!upload) return atCap;
  return { ok: true, upload };
}

/**
 * The tenant's staged upload while it can still be imported; another tenant's, an expired one, an
 * imported one and none at all look alike. A client holding on to an upload to import it again
 * later (after a refusal) learns from this that there is nothing left to import.
 */
export async function findStagedUpload(deps: StagedDeps, tenantId: string, id: string): Promise<StagedUploadRow | null> {
  const upload = await getTenantStagedUpload(deps.db, tenantId, id);
  return upload && !upload.jobId ? upload : null;
}

/** Every part with its URL and whether it has arrived (URLs are made afresh: they expire with the upload). */
export async function stagedParts(deps: StagedDeps, upload: StagedUploadRow, origin: string): Promise<StagedPart[]> {
  const received = new Set(await deps.staged.receivedParts(upload));
  const numbers = Array.from({ length: partCount(upload.fileSize, upload.partSize) }, (_, i) => i + 1);
  return Promise.all(numbers.map(async (number) => ({ number, url: await deps.staged.partUrl(upload, number, origin), received: received.has(number) })));
}
