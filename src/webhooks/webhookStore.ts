/** Every read and write of the webhooks table; reads and deletes are scoped by tenant. */
import type { Database, SqlExecutor } from '../db/database.js';
import { holdLock, LockIds } from '../db/lockIds.js';
import { isUuid } from '../jobs/jobStore.js';

/** A webhook as the tenant sees it: never its secret. */
export interface Webhook { id: string; tenantId: string; url: string; events: string[]; createdAt: Date }

interface WebhookSqlRow { id: string; tenant_id: string; url: string; events: string[]; created_ms: number }

const COLUMNS = 'id, tenant_id, url, events, (extract(epoch from created_at) * 1000)::float8 as created_ms';

const toWebhook = (r: WebhookSqlRow): Webhook => ({ id: r.id, tenantId: r.tenant_id, url: r.url, events: r.events, createdAt: new Date(Number(r.created_ms)) });

/**
 * Inserts the webhook unless the tenant already has `max`; null when it has. Under a lock on the
 * tenant's webhooks: creates sent all at once would otherwise each count the others' rows uncommitted.
 */
export async function insertWebhook(db: Database, hook: { tenantId: string; url: string; events: string[]; secretCiphertext: string }, max: number): Promise<Webhook | null> {
  return db.transaction(async (tx) => {
    await holdLock(tx, LockIds.TENANT_WEBHOOKS, hook.tenantId);
    const [row] = await tx.query<WebhookSqlRow>(
      `insert into webhooks (tenant_id, url, events, secret_ciphertext)
       select $1, $2, $3, $4 where (select count(*) from webhooks where tenant_id = $1) < $5
       returning ${COLUMNS}`,
      [hook.tenantId, hook.url, hook.events, hook.secretCiphertext, max],
    );
    return row ? toWebhook(row) : null;
  });
}

export async function listWebhooks(db: SqlExecutor, tenantId: string): Promise<Webhook[]> {
  const rows = await db.query<WebhookSqlRow>(`select ${COLUMNS} from webhooks where tenant_id = $1 order by created_at, id`, [tenantId]);
  return rows.map(toWebhook);
}

/** Deletes the tenant's webhook, its pending messages and its delivery log; the webhook as it was, or null. */
export async function deleteWebhook(db: SqlExecutor, tenantId: string, id: string): Promise<Webhook | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.query<WebhookSqlRow>(`delete from webhooks where id = $1 and tenant_id = $2 returning ${COLUMNS}`, [id, tenantId]);
  return row ? toWebhook(row) : null;
}
