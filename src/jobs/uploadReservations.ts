/**
 * Every read and write of upload_reservations (db/schema.ts): one row per file arriving into the
 * spool, for the limits that hold across instances. What is allowed is decided in
 * spool/spoolReservations.ts.
 */
import type { Database, SqlExecutor } from '../db/database.js';

/** Advisory lock key: held while arriving files are weighed against the spool's room, fleet-wide. */
const SPOOL_ROOM_LOCK = 7_311_003;

export interface ReservationRow { id: string; spoolPath: string; bytes: number }

/** Until the transaction ends, no other one weighs a file against the spool's room. Take it after a tenant's lock, never before. */
export async function lockSpoolRoom(tx: SqlExecutor): Promise<void> {
  await tx.query('select pg_advisory_xact_lock($1)', [SPOOL_ROOM_LOCK]);
}

/**
 * Rows whose instance stopped renewing them (it died mid-upload) count for nothing; a tenant's
 * are deleted under its lock (one tenant at a time, so two deletes never wait on each other).
 */
export async function dropExpiredReservations(tx: SqlExecutor, tenantId: string): Promise<void> {
  await tx.query('delete from upload_reservations where tenant_id = $1 and expires_at < now()', [tenantId]);
}

export async function countTenantReservations(tx: SqlExecutor, tenantId: string): Promise<number> {
  const [row] = await tx.query<{ n: number }>(
    'select count(*)::int as n from upload_reservations where tenant_id = $1 and expires_at >= now()',
    [tenantId],
  );
  return row.n;
}

/** Every live reservation, of every tenant. */
export async function listReservations(tx: SqlExecutor): Promise<ReservationRow[]> {
  const rows = await tx.query<{ id: string; spool_path: string; bytes: number | string }>(
    'select id, spool_path, bytes from upload_reservations where expires_at >= now()',
  );
  return rows.map((r) => ({ id: r.id, spoolPath: r.spool_path, bytes: Number(r.bytes) }));
}

export async function insertReservation(tx: SqlExecutor, row: { tenantId: string; spoolPath: string; bytes: number; ttlMs: number }): Promise<string> {
  const [created] = await tx.query<{ id: string }>(
    `insert into upload_reservations (tenant_id, spool_path, bytes, expires_at)
     values ($1, $2, $3, now() + $4 * interval '1 millisecond') returning id`,
    [row.tenantId, row.spoolPath, row.bytes, row.ttlMs],
  );
  return created.id;
}

export async function setReservationBytes(tx: SqlExecutor, id: string, bytes: number): Promise<void> {
  await tx.query('update upload_reservations set bytes = $2 where id = $1', [id, bytes]);
}

export async function renewReservation(db: SqlExecutor, id: string, ttlMs: number): Promise<void> {
  await db.query(`update upload_reservations set expires_at = now() + $2 * interval '1 millisecond' where id = $1`, [id, ttlMs]);
}

export async function deleteReservation(db: Database, id: string): Promise<void> {
  await db.query('delete from upload_reservations where id = $1', [id]);
}
