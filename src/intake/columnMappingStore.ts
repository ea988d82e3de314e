/**
 * Every read and write of column_mappings: a tenant's saved column mappings, by name. Saving a
 * name again replaces that mapping. Always scoped by tenant.
 */
import { and, desc, eq } from 'drizzle-orm';
import type { Database } from '../db/database.js';
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

/** Saves (or replaces) the tenant's mapping called `name`. */
export async function saveColumnMapping(db: Database, tenantId: string, saved: Omit<SavedMapping, 'updatedAt'>): Promise<void> {
  await db.query(
    `insert into column_mappings (tenant_id, name, kind, mapping, headers) values ($1, $2, $3, $4::jsonb, $5::jsonb)
     on conflict (tenant_id, name) do update set kind = excluded.kind, mapping = excluded.mapping, headers = excluded.headers, updated_at = now()`,
    [tenantId, saved.name, saved.kind, JSON.stringify(saved.mapping), JSON.stringify(saved.headers)],
  );
}
