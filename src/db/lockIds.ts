/**
 * Every Postgres advisory lock key the service takes, in one place so that no two uses collide.
 * Transaction-level locks only, except the migration lock (migrations run on a direct session).
 */
import type { SqlExecutor } from './database.js';

export const LockIds = {
  /** Running the migrations: one instance at a time. */
  MIGRATIONS: 7_311_001,
  /** One tenant's active jobs, with the tenant as the second key: two uploads cannot both pass the limit check. */
  TENANT_JOBS: 7_311_002,
  /** One tenant's roster table, with tenant and table as the second key: upserts of one roster never interleave. */
  ROSTER: 7_311_003,
  /** One tenant's staged uploads, with the tenant as the second key: two creates cannot both pass the cap. */
  TENANT_STAGED: 7_311_004,
  /** One tenant's webhooks, with the tenant as the second key: two creates cannot both pass the cap. */
  TENANT_WEBHOOKS: 7_311_005,
  /** One tenant's saved column mappings, with the tenant as the second key: two saves cannot both pass the cap. */
  TENANT_MAPPINGS: 7_311_006,
} as const;

/** Until the transaction ends, holds lock `id` for `key` (a tenant, or a tenant and a table): others wait. */
export async function holdLock(tx: SqlExecutor, id: (typeof LockIds)[keyof typeof LockIds], key: string): Promise<void> {
  await tx.query('select pg_advisory_xact_lock($1, hashtext($2))', [id, key]);
}
