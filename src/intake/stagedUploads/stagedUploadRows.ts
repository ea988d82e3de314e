/**
 * Every read and write of staged_uploads (db/schema.ts): one row per staged upload, from
 * createStagedUpload until the sweep removes it after its expiry.
 */
import type { Database, SqlExecutor } from '../../db/database.js';
import { holdLock, LockIds } from '../../db/lockIds.js';
import type { Utf8Break } from '../../spool/utf8Check.js';

export interface StagedUploadRow {
  id: string;
  tenantId: string;
  filename: string;
  fileSize: number;
  partSize: number;
  sha256: string | null;
  location: string;
  s3UploadId: string | null;
  signingKey: string;
  receivedParts: number[];
  completed: boolean;
  /** What a first import learned by reading the whole file back (null until then, and after a part is sent again). */
  read: StagedFileRead | null;
  /** Not before then may the file be decoded again (a decoding import was refused). */
  decodeAgainAt: Date | null;
  jobId: string | null;
  expiresAt: Date;
}

/** The whole file as read back: its size was the declared one, its SHA-256 this. */
export interface StagedFileRead { sha256: string; notUtf8: Utf8Break | null }

interface RawRow {
  id: string; tenant_id: string; filename: string; file_size: string | number; part_size: string | number; sha256: string | null;
  location: string; s3_upload_id: string | null; signing_key: string; received_parts: number[]; completed: boolean;
  read_sha256: string | null; read_not_utf8: Utf8Break | null; decode_again_at: Date | string | null; job_id: string | null; expires_at: Date | string;
}

const COLUMNS = 'id, tenant_id, filename, file_size, part_size, sha256, location, s3_upload_id, signing_key, received_parts, completed, read_sha256, read_not_utf8, decode_again_at, job_id, expires_at';

const fromRaw = (r: RawRow): StagedUploadRow => ({
  id: r.id, tenantId: r.tenant_id, filename: r.filename, fileSize: Number(r.file_size), partSize: Number(r.part_size),
  sha256: r.sha256, location: r.location, s3UploadId: r.s3_upload_id, signingKey: r.signing_key,
  receivedParts: (r.received_parts ?? []).map(Number), completed: r.completed,
  read: r.read_sha256 ? { sha256: r.read_sha256, notUtf8: r.read_not_utf8 } : null,
  decodeAgainAt: r.decode_again_at ? new Date(r.decode_again_at) : null, jobId: r.job_id, expiresAt: new Date(r.expires_at),
});

export type NewStagedUpload = Omit<StagedUploadRow, 'receivedParts' | 'completed' | 'read' | 'decodeAgainAt' | 'jobId' | 'expiresAt'> & { ttlMs: number };

/**
 * Inserts the upload unless the tenant already has `maxLive` under way (then null), under a lock
 * on the tenant's staged uploads: creates sent all at once are counted one after another.
 */
export async function insertStagedUpload(db: Database, row: NewStagedUpload, maxLive: number): Promise<StagedUploadRow | null> {
  return db.transaction(async (tx) => {
    await holdLock(tx, LockIds.TENANT_STAGED, row.tenantId);
    if (await countLiveStagedUploads(tx, row.tenantId) >= maxLive) return null;
    return insertRow(tx, row);
  });
}

async function insertRow(db: SqlExecutor, row: NewStagedUpload): Promise<StagedUploadRow> {
  const [created] = await db.query<RawRow>(
    `insert into staged_uploads (id, tenant_id, filename, file_size, part_size, sha256, location, s3_upload_id, signing_key, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + $10 * interval '1 millisecond') returning ${COLUMNS}`,
    [row.id, row.tenantId, row.filename, row.fileSize, row.partSize, row.sha256, row.location, row.s3UploadId, row.signingKey, row.ttlMs],
  );
  return fromRaw(created);
}

/** The tenant's staged upload, unless it has expired (then it is as good as gone). */
export async function getTenantStagedUpload(db: SqlExecutor, tenantId: string, id: string): Promise<StagedUploadRow | null> {
  const [row] = await db.query<RawRow>(`select ${COLUMNS} from staged_uploads where id = $1 and tenant_id = $2 and expires_at > now()`, [id, tenantId]);
  return row ? fromRaw(row) : null;
}

/** Any tenant's, for a part URL (which carries its own authority); null when expired, imported or being imported. */
export async function getOpenStagedUpload(db: SqlExecutor, id: string): Promise<StagedUploadRow | null> {
  const [row] = await db.query<RawRow>(
    `select ${COLUMNS} from staged_uploads
     where id = $1 and expires_at > now() and job_id is null and (importing_until is null or importing_until < now())`,
    [id],
  );
  return row ? fromRaw(row) : null;
}

/** The tenant's staged uploads neither expired nor imported. */
export async function countLiveStagedUploads(db: SqlExecutor, tenantId: string): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    'select count(*)::int as n from staged_uploads where tenant_id = $1 and expires_at > now() and job_id is null', [tenantId]);
  return row.n;
}

/**
 * A part is being written: it no longer counts as received until its last byte is, and what was
 * read of the whole file no longer holds. False (nothing changed) while an import holds the upload:
 * the file must not change under it, nor after it read the file and before it records what it read.
 */
export async function unmarkPart(db: SqlExecutor, id: string, part: number): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    `update staged_uploads set received_parts = array_remove(received_parts, $2::int), read_sha256 = null, read_not_utf8 = null
     where id = $1 and job_id is null and (importing_until is null or importing_until < now()) returning id`,
    [id, part],
  );
  return rows.length > 0;
}

export async function markPartReceived(db: SqlExecutor, id: string, part: number): Promise<void> {
  await db.query(
    'update staged_uploads set received_parts = array_append(array_remove(received_parts, $2::int), $2::int) where id = $1',
    [id, part],
  );
}

/** Records what reading the whole file back found, so a later import of it need not read it again. */
export async function recordRead(db: SqlExecutor, id: string, read: StagedFileRead): Promise<void> {
  await db.query('update staged_uploads set read_sha256 = $2, read_not_utf8 = $3 where id = $1', [id, read.sha256, read.notUtf8 ? JSON.stringify(read.notUtf8) : null]);
}

/** A decoding import was refused after `ms` of work: the next may begin as long after now. */
export async function holdOffDecoding(db: SqlExecutor, id: string, ms: number): Promise<void> {
  await db.query(`update staged_uploads set decode_again_at = now() + $2 * interval '1 millisecond' where id = $1`, [id, ms]);
}

export async function markCompleted(db: SqlExecutor, id: string): Promise<void> {
  await db.query('update staged_uploads set completed = true where id = $1', [id]);
}

/**
 * Takes the upload for one import, for at most `ms`: false when another import holds it. While
 * held, its part URLs are refused, so the file does not change under the import.
 */
export async function claimForImport(db: SqlExecutor, id: string, ms: number): Promise<boolean> {
  const rows = await db.query<{ id: string }>(
    `update staged_uploads set importing_until = now() + $2 * interval '1 millisecond'
     where id = $1 and job_id is null and (importing_until is null or importing_until < now()) returning id`,
    [id, ms],
  );
  return rows.length > 0;
}

export async function releaseImportClaim(db: SqlExecutor, id: string): Promise<void> {
  await db.query('update staged_uploads set importing_until = null where id = $1', [id]);
}

/** Records the job the upload became; false when another import of it got there first. */
export async function attachJob(db: SqlExecutor, id: string, jobId: string): Promise<boolean> {
  const rows = await db.query<{ id: string }>('update staged_uploads set job_id = $2 where id = $1 and job_id is null returning id', [id, jobId]);
  return rows.length > 0;
}

export async function deleteStagedUpload(db: SqlExecutor, id: string): Promise<void> {
  await db.query('delete from staged_uploads where id = $1', [id]);
}

/** Uploads past their expiry, oldest first; not one an import holds (it began before the expiry, and reads the file). */
export async function listExpiredStagedUploads(db: SqlExecutor, limit: number): Promise<StagedUploadRow[]> {
  const rows = await db.query<RawRow>(
    `select ${COLUMNS} from staged_uploads
     where expires_at <= now() and (importing_until is null or importing_until < now()) order by expires_at limit $1`,
    [limit],
  );
  return rows.map(fromRaw);
}

/** Where live staged uploads not yet imported, or being imported, keep their file (and S3 multipart upload ids): the spool sweep leaves them be. */
export async function liveStagedLocations(db: SqlExecutor): Promise<{ locations: Set<string>; s3UploadIds: Set<string> }> {
  const rows = await db.query<{ location: string; s3_upload_id: string | null }>(
    'select location, s3_upload_id from staged_uploads where (expires_at > now() or importing_until > now()) and job_id is null',
  );
  return {
    locations: new Set(rows.map((r) => r.location)),
    s3UploadIds: new Set(rows.flatMap((r) => (r.s3_upload_id ? [r.s3_upload_id] : []))),
  };
}
