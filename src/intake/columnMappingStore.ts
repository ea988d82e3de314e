/**
 * Every read and write of column_mappings: a tenant's saved column mappings, by name. Saving a
 * name again replaces that mapping. Always scoped by tenant.
 */
import { and, desc, eq } from 'drizzle-orm';
import type { Database } from '../db/database.js';
import { holdLock, LockIds } from '../db/lockIds.js';
import { columnMappings } from '../db/schema.js';
import type { ColumnMappingEntry } from '../kinds/columnMapping.js';

export interface SavedMapping {
  name: string;
  kind: string;
  mapping: ColumnMappingEntry[];
  /** The header of the file it was saved with: a later file with these names has it applied. */
  headers: string[];
  updatedAt: Date;
}

/** The tenant's mappings, newest first; of one kind when `kind` is given. */
export async function listColumnMappings(db: Database, tenantId: string, kind?: string | null): Promise<SavedMapping[]> {
  const where = kind ? and(eq(columnMappings.tenantId, tenantId), eq(columnMappings.kind, kind)) : eq(columnMappings.tenantId, tenantId);
  return db.orm.select({
    name: columnMappings.name, kind: columnMappings.kind, mapping: columnMappings.mapping,
    headers: columnMappings.headers, updatedAt: columnMappings.updatedAt,
  }).from(columnMappings).where(where).orderBy(desc(columnMappings.updatedAt), desc(columnMappings.name));
}

/**
 * Every import of a kind without a mapping loads the tenant's saved mappings of that kind, and
 * columnMappings lists them all: how many a tenant may keep, and how long a header one may be
 * saved with (a header may otherwise be a 4 MiB CSV record), bound what that costs.
 */
export const MAX_SAVED_MAPPINGS_PER_TENANT = 100;
export const MAX_SAVED_HEADER_CHARS = 64 * 1024;

/** Why the tenant may not save this mapping under `name`, in words for it; null when it may. */
export async function refuseSavingMapping(db: Database, tenantId: string, name: string, header: readonly string[]): Promise<string | null> {
  const chars = header.reduce((n, h) => n + h.length + 1, 0);
  if (chars > MAX_SAVED_HEADER_CHARS) {
    return `saveMappingAs: the file's header is ${chars} characters long; a mapping is saved only with a header of at most ${MAX_SAVED_HEADER_CHARS} (send columnMapping with each such file instead)`;
  }
  const [row] = await db.query<{ others: number }>(
    'select count(*)::int as others from column_mappings where tenant_id = $1 and name <> $2', [tenantId, name]);
  if (row.others >= MAX_SAVED_MAPPINGS_PER_TENANT) {
    return `saveMappingAs: this tenant already has ${MAX_SAVED_MAPPINGS_PER_TENANT} saved column mappings, the most it may keep; save under the name of one it has to replace it`;
  }
  return null;
}

/**
 * Saves (or replaces) the tenant's mapping called `name`; a new name only while the tenant has
 * fewer than MAX_SAVED_MAPPINGS_PER_TENANT, counted under a lock on the tenant's mappings
 * (refuseSavingMapping said why beforehand; of imports racing past that check, those past the cap
 * are imported without saving their mapping).
 */
export async function saveColumnMapping(db: Database, tenantId: string, saved: Omit<SavedMapping, 'updatedAt'>): Promise<void> {
  await db.transaction(async (tx) => {
    await holdLock(tx, LockIds.TENANT_MAPPINGS, tenantId);
    await tx.query(
      `insert into column_mappings (tenant_id, name, kind, mapping, headers)
       select $1, $2, $3, $4::jsonb, $5::jsonb
       where exists (select 1 from column_mappings where tenant_id = $1 and name = $2)
          or (select count(*) from column_mappings where tenant_id = $1) < $6
       on conflict (tenant_id, name) do update set kind = excluded.kind, mapping = excluded.mapping, headers = excluded.headers, updated_at = now()`,
      [tenantId, saved.name, saved.kind, JSON.stringify(saved.mapping), JSON.stringify(saved.headers), MAX_SAVED_MAPPINGS_PER_TENANT],
    );
  });
}
