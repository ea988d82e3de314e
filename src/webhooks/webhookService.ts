/**
 * createWebhook and deleteWebhook, as the API calls them: the checks, a new secret (returned
 * this once, stored only sealed), and the tenant's limit.
 */
import type { Database } from '../db/database.js';
import type { UserError } from '../intake/userErrors.js';
import { newSecret, type SecretBox } from './secretBox.js';
import { WEBHOOK_EVENTS, type WebhookEvent } from './jobEvent.js';
import { checkWebhookUrl, type AddressRules } from './webhookUrl.js';
import { deleteWebhook, insertWebhook, type Webhook } from './webhookStore.js';

/** Webhooks one tenant may have: each job end becomes a message for each of them. */
export const MAX_WEBHOOKS_PER_TENANT = 20;

export type WebhookResult = { ok: true; webhook: Webhook; secret: string | null } | ({ ok: false } & UserError);

export interface WebhookDeps { db: Database; secrets: () => Promise<SecretBox>; rules: AddressRules }

export async function createWebhook(deps: WebhookDeps, tenantId: string, input: { url: string; events: readonly WebhookEvent[] }): Promise<WebhookResult> {
  const events = WEBHOOK_EVENTS.filter((e) => input.events.includes(e));
  if (events.length === 0) return { ok: false, code: 'INVALID_INPUT', message: 'events must name at least one event', field: ['input', 'events'] };
  const checked = await checkWebhookUrl(input.url, deps.rules);
  if (!checked.ok) return { ok: false, code: 'INVALID_INPUT', message: checked.message, field: ['input', 'url'] };
  const secret = newSecret();
  const webhook = await insertWebhook(deps.db, { tenantId, url: checked.url, events, secretCiphertext: (await deps.secrets()).seal(secret) }, MAX_WEBHOOKS_PER_TENANT);
  if (!webhook) return { ok: false, code: 'INVALID_INPUT', message: `a tenant may have at most ${MAX_WEBHOOKS_PER_TENANT} webhooks: delete one first`, field: ['input'] };
  return { ok: true, webhook, secret };
}

export async function removeWebhook(db: Database, tenantId: string, id: string | null): Promise<WebhookResult> {
  const webhook = id ? await deleteWebhook(db, tenantId, id) : null;
  if (!webhook) return { ok: false, code: 'NOT_FOUND', message: 'Webhook not found', field: ['id'] };
  return { ok: true, webhook, secret: null };
}
