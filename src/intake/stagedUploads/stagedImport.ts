/**
 * importStagedUpload: puts the parts together (an S3 spool completes its multipart upload), reads
 * the whole file once for its size, SHA-256 and head, refuses a file whose SHA-256 is not the one
 * declared (INVALID_FILE; the upload is removed, nothing imported), then goes through every check
 * of an uploaded file (importService.ts: options, size, DUPLICATE_FILE, format, header against the
 * kind, IMPORT_IN_PROGRESS) and queues the job, which reads the staged file where it is. A refused
 * import leaves the upload as it is, to be imported again (with other options, or later); what the
 * whole read found is kept on its row, so a later import reads only the head again (a tenant
 * importing a refused upload over and over must not have the server read its whole file each time).
 */
import { Transform, type Readable } from 'node:stream';
import { jobGlobalId } from '../../jobs/globalIds.js';
import { KINDS } from '../../kinds/index.js';
import { countActiveJobs } from '../../jobs/jobStore.js';
import { tooLargeMessage } from '../../spool/spool.js';
import { jobsInProgressMessage } from '../../spool/spoolReservations.js';
import { checkOptions, importFile, queueSpooledFile, type ImportDeps, type ImportOptions, type ImportResult } from '../importService.js';
import { HEAD_BYTES, inspectHead } from '../inspect.js';
import type { UserError } from '../userErrors.js';
import { needsDecoding } from '../fileDecoding.js';
import { notUtf8Message } from '../../spool/utf8Check.js';
import type { StagedDeps } from './stagedUploadService.js';
import {
  attachJob, claimForImport, deleteStagedUpload, getTenantStagedUpload, holdOffDecoding, markCompleted, recordRead, releaseImportClaim, type StagedFileRead, type StagedUploadRow,
} from './stagedUploadRows.js';

export interface StagedImportRequest extends ImportOptions { stagedUploadId: string }

const FIELD = ['input', 'stagedUploadId'];
/** Missing parts named in a message; more are counted. */
const PARTS_NAMED = 20;

const refuse = (error: UserError): ImportResult => ({ ok: false, ...error });

/** Longer than reading back a 1 GiB file takes; a claim whose instance died frees itself then. */
const IMPORT_CLAIM_MS = 15 * 60_000;

export async function importStagedUpload(deps: ImportDeps & StagedDeps, req: StagedImportRequest): Promise<ImportResult> {
  const upload = await getTenantStagedUpload(deps.db, req.tenantId, req.stagedUploadId);
  if (!upload) return refuse({ code: 'NOT_FOUND', message: 'No such staged upload (or it has expired)', field: FIELD });
  if (upload.jobId) return refuse({ code: 'INVALID_INPUT', message: `This staged upload was already imported (job ${jobGlobalId(upload.jobId)})`, field: FIELD });
  const wrong = checkOptions(req);
  if (wrong) return refuse(wrong);
  if (upload.fileSize > deps.config.maxFileSize) return refuse({ code: 'FILE_TOO_LARGE', message: tooLargeMessage(deps.config.maxFileSize), field: FIELD });
  // As for an upload, before the file is read: the whole file is read back (its SHA-256) before the
  // job is made, which checks again; a tenant at its limit must not make the server read its files.
  if (await countActiveJobs(deps.db, req.tenantId) >= deps.config.maxActiveJobsPerTenant) {
    return refuse({ code: 'IMPORT_IN_PROGRESS', message: jobsInProgressMessage(deps.config.maxActiveJobsPerTenant) });
  }
  if (!(await claimForImport(deps.db, upload.id, IMPORT_CLAIM_MS))) {
    return refuse({ code: 'INVALID_INPUT', message: 'This staged upload is being imported by another request right now', field: FIELD });
  }
  try {
    return await importClaimed(deps, req, upload);
  } finally {
    await releaseImportClaim(deps.db, upload.id);
  }
}

async function importClaimed(deps: ImportDeps & StagedDeps, req: StagedImportRequest, upload: StagedUploadRow): Promise<ImportResult> {
  const kind = KINDS[req.kind]!;
  const missing = await deps.staged.assemble(upload);
  if (missing.length) {
    const named = missing.slice(0, PARTS_NAMED).join(', ') + (missing.length > PARTS_NAMED ? ` and ${missing.length - PARTS_NAMED} more` : '');
    return refuse({ code: 'INVALID_INPUT', message: `Part(s) ${named} of ${upload.filename} have not arrived: PUT them, then import again`, field: FIELD });
  }
  if (deps.s3Staged && !upload.completed) {
    await markCompleted(deps.db, upload.id);
    upload.completed = true;
  }
  const checked = await readOnce(deps, upload);
  if (!checked.ok) return checked;
  const { file, head } = checked;
  if (needsDecoding(head, { filename: upload.filename, format: req.format, encoding: req.encoding })) return importDecoded(deps, req, upload);
  const result = await queueSpooledFile(deps, req, kind, { path: upload.location, size: upload.fileSize, sha256: file.sha256, filename: upload.filename }, {
    field: FIELD,
    fileError: file.notUtf8 ? { code: 'INVALID_FILE', message: notUtf8Message(file.notUtf8) } : undefined,
    inspect: async (reading) => inspectHead(head, { filename: upload.filename, format: req.format, kind, ...reading }),
    giveUp: async () => {},
  });
  if (result.ok) await attachJob(deps.db, upload.id, result.job.id);
  return result;
}

/**
 * The whole file's SHA-256 and UTF-8 break, and its head. The first import reads the whole file
 * (refusing for good a file that is not the one declared) and records what it found on the row;
 * a later one reads only the head. The row's record is cleared when a part is sent again.
 */
async function readOnce(deps: ImportDeps & StagedDeps, upload: StagedUploadRow): Promise<{ ok: true; file: StagedFileRead; head: Buffer } | ({ ok: false } & UserError)> {
  if (upload.read) return { ok: true, file: upload.read, head: await deps.staged.head(upload, HEAD_BYTES) };
  const file = await deps.staged.read(upload, HEAD_BYTES);
  deps.metrics.stagedBytesRead.inc({ purpose: 'check' }, file.size);
  const declared = upload.sha256;
  if (file.size !== upload.fileSize || (declared && file.sha256 !== declared)) {
    await deps.staged.discard(upload);
    await deleteStagedUpload(deps.db, upload.id);
    const found = file.size !== upload.fileSize ? `${file.size} bytes, not the ${upload.fileSize} declared` : `SHA-256 ${file.sha256}, not the ${declared} declared`;
    return { ok: false, code: 'INVALID_FILE', message: `The file that arrived has ${found}: a part was damaged on the way. Nothing was imported; create a new staged upload and send the file again`, field: FIELD };
  }
  const read = { sha256: file.sha256, notUtf8: file.notUtf8 };
  await recordRead(deps.db, upload.id, read);
  return { ok: true, file: read, head: file.head };
}

/** The staged file's bytes as they are read, counted; its read failing fails this stream too (pipe alone would leave it waiting). */
function counted(deps: ImportDeps, file: Readable, purpose: string): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      deps.metrics.stagedBytesRead.inc({ purpose }, chunk.length);
      done(null, chunk);
    },
  });
  file.once('error', (err) => counter.destroy(err));
  counter.once('close', () => file.destroy());
  return file.pipe(counter);
}

/**
 * A staged file that is gzipped, XLSX or not UTF-8 is read once more, decoded into a new spool
 * file as an upload's would be (importService's importFile: its limits, MAX_UNCOMPRESSED_SIZE, the
 * hash of the bytes sent), and the job reads that one; the staged file then goes. Refused, the
 * staged upload stays as it is, to be imported again, but not before as long again as the refused
 * import took: nothing of the decoding is kept, and a tenant importing the upload over and over
 * would keep the server decoding its file.
 */
async function importDecoded(deps: ImportDeps & StagedDeps, req: StagedImportRequest, upload: StagedUploadRow): Promise<ImportResult> {
  if (upload.decodeAgainAt && upload.decodeAgainAt.getTime() > Date.now()) {
    return refuse({
      code: 'INVALID_INPUT',
      message: `${upload.filename} is decoded again at each import, and the last import of it was refused: import it again after ${upload.decodeAgainAt.toISOString()}`,
      field: FIELD,
    });
  }
  const began = Date.now();
  const result = await importFile(deps, req, {
    field: FIELD,
    declaredBytes: null,
    open: async () => ({ ok: true, stream: counted(deps, await deps.staged.open(upload), 'decode'), filename: upload.filename }),
    abandon: () => {},
  });
  if (!result.ok) {
    await holdOffDecoding(deps.db, upload.id, Date.now() - began);
    return result;
  }
  await attachJob(deps.db, upload.id, result.job.id);
  await deps.staged.discard(upload);
  return result;
}
