/**
 * Tenants and their API keys. A key is shown once, when it is made; the database keeps only its
 * SHA-256 (keys are 256 random bits, so a fast hash is enough: there is nothing to brute-force).
 */
import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Database, SqlExecutor } from '../db/database.js';
import { apiKeys, tenants } from '../db/schema.js';

export interface Tenant { id: string; name: string }

export interface NewKey { key: string; hash: string; prefix: string }

export function generateKey(): NewKey {
  const key = `bik_${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashKey(key), prefix: key.slice(0, 10) };
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Stores a key's hash for a tenant, creating the tenant on first use. */
export async function storeKey(db: SqlExecutor, tenantName: string, hash: string, prefix: string): Promise<void> {
  const [tenant] = await db.query<{ id: string }>(
    `insert into tenants (name) values ($1)
     on conflict (name) do update set name = excluded.name returning id`,
    [tenantName],
  );
  await db.query('insert into api_keys (tenant_id, key_hash, prefix) values ($1, $2, $3)', [tenant.id, hash, prefix]);
}

export async function createKey(db: Database, tenantName: string): Promise<string> {
  const { key, hash, prefix } = generateKey();
  await storeKey(db, tenantName, hash, prefix);
  return key;
}

export interface KeyInfo { id: string; tenant: string; prefix: string; createdAt: Date; revokedAt: Date | null }

export async function listKeys(db: Database, tenantName?: string): Promise<KeyInfo[]> {
  const rows = await db.orm
    .select({ id: apiKeys.id, tenant: tenants.name, prefix: apiKeys.prefix, createdAt: apiKeys.createdAt, revokedAt: apiKeys.revokedAt })
    .from(apiKeys)
    .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .where(tenantName ? eq(tenants.name, tenantName) : undefined)
    .orderBy(apiKeys.createdAt);
  return rows;
}

/** Revokes by key id, by the key itself or by its hash; returns whether a live key was revoked. */
export async function revokeKey(db: Database, idOrKey: string): Promise<boolean> {
  let match;
  if (idOrKey.startsWith('bik_')) match = eq(apiKeys.keyHash, hashKey(idOrKey));
  else if (/^[0-9a-f]{64}$/i.test(idOrKey)) match = eq(apiKeys.keyHash, idOrKey);
  else if (/^[0-9a-f-]{36}$/i.test(idOrKey)) match = eq(apiKeys.id, idOrKey);
  else return false;
  const rows = await db.orm.update(apiKeys).set({ revokedAt: new Date() })
    .where(and(match, isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id });
  return rows.length > 0;
}

/** Reads `Bearer <key>` and returns the key's tenant, or null for a missing, unknown or revoked key. */
export async function authenticate(db: SqlExecutor, authorization: string | null | undefined): Promise<Tenant | null> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return null;
  const [row] = await db.query<Tenant>(
    `select t.id, t.name from api_keys k join tenants t on t.id = k.tenant_id
     where k.key_hash = $1 and k.revoked_at is null`,
    [hashKey(match[1])],
  );
  return row ?? null;
}

/** Which of these key hashes still belong to keys that are not revoked (the WebSocket revocation sweep). */
export async function liveKeyHashes(db: SqlExecutor, hashes: readonly string[]): Promise<Set<string>> {
  const rows = await db.query<{ key_hash: string }>('select key_hash from api_keys where key_hash = any($1) and revoked_at is null', [hashes]);
  return new Set(rows.map((r) => r.key_hash));
}
