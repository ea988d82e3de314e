/** Webhooks: createWebhook, deleteWebhook, the webhooks query, and each webhook's delivery log. */
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { getJob } from '../../jobs/jobStore.js';
import { WEBHOOK_EVENTS } from '../../webhooks/jobEvent.js';
import { countAttempts, listAttempts, type DeliveryAttempt } from '../../webhooks/deliveryStore.js';
import { listWebhooks, type Webhook } from '../../webhooks/webhookStore.js';
import { createWebhook, removeWebhook, type WebhookResult } from '../../webhooks/webhookService.js';
import { messageIdOf } from '../../webhooks/signature.js';
import type { UserError } from '../../intake/userErrors.js';
import { builder } from './builder.js';
import { forwardPage, JobRef } from './job.js';
import { UserErrorRef } from './userError.js';

const WEBHOOK_TYPENAME = 'Webhook';

/** The webhook uuid in a Webhook's id; null for anything else. */
function webhookIdOf(globalId: string): string | null {
  try {
    const { typename, id } = decodeGlobalID(globalId.slice(0, 200));
    return typename === WEBHOOK_TYPENAME && id ? id : null;
  } catch {
    return null;
  }
}

export const WebhookEventEnum = builder.enumType('WebhookEvent', { values: WEBHOOK_EVENTS });
const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', { values: ['SUCCEEDED', 'FAILED'] as const });

const WebhookDeliveryRef = builder.objectRef<DeliveryAttempt>('WebhookDelivery').implement({
  description: 'One attempt to deliver one event to a webhook, and what the receiver answered',
  fields: (t) => ({
    messageId: t.string({ description: 'The webhook-id header: the same on every attempt of one event', resolve: (a) => messageIdOf(a.messageId) }),
    event: t.field({ type: WebhookEventEnum, resolve: (a) => a.event }),
    job: t.field({ type: JobRef, nullable: true, resolve: (a, _args, ctx) => getJob(ctx.db, ctx.tenant.id, a.jobId) }),
    attempt: t.int({ description: "1 for the first attempt at this event, then 2, 3, ...", resolve: (a) => a.attempt }),
    status: t.field({ type: DeliveryStatusEnum, description: 'SUCCEEDED: the receiver answered 2xx', resolve: (a) => (a.succeeded ? 'SUCCEEDED' : 'FAILED') }),
    responseStatus: t.int({ nullable: true, description: "The receiver's HTTP status; null when it gave none (no connection, a timeout)", resolve: (a) => a.responseStatus }),
    responseBody: t.string({ nullable: true, description: "The start of the receiver's answer (at most 1 KiB)", resolve: (a) => a.responseBody }),
    error: t.string({ nullable: true, description: 'Why the attempt failed', resolve: (a) => a.error }),
    attemptedAt: t.field({ type: 'DateTime', resolve: (a) => a.attemptedAt }),
    durationMs: t.int({ resolve: (a) => a.durationMs }),
    nextAttemptAt: t.field({ type: 'DateTime', nullable: true, description: 'When this event is tried again after this failed attempt; null when it was delivered or given up', resolve: (a) => a.nextAttemptAt }),
  }),
});

export const WebhookRef = builder.objectRef<Webhook>('Webhook').implement({
  description: 'A URL that job ends are sent to, signed per the Standard Webhooks specification',
  fields: (t) => ({
    id: t.id({ resolve: (w) => encodeGlobalID(WEBHOOK_TYPENAME, w.id) }),
    url: t.exposeString('url'),
    events: t.field({ type: [WebhookEventEnum], resolve: (w) => w.events as never }),
    createdAt: t.field({ type: 'DateTime', resolve: (w) => w.createdAt }),
    deliveries: t.connection({
      type: WebhookDeliveryRef,
      description: 'The delivery log: every attempt, newest first',
      resolve: (hook, args, ctx) => forwardPage(args, 'delivery', 'Webhook.deliveries', {
        load: (after, limit) => listAttempts(ctx.db, hook.id, { beforeId: after, limit }),
        keyOf: (a) => a.id,
        count: () => countAttempts(ctx.db, hook.id),
      }),
    }, {
      name: 'WebhookDeliveryConnection',
      fields: (c) => ({ totalCount: c.int({ resolve: (conn) => (conn as unknown as { totalCount: () => Promise<number> }).totalCount() }) }),
    }, { name: 'WebhookDeliveryEdge' }),
  }),
});

interface WebhookPayloadShape { webhook: Webhook | null; secret: string | null; userErrors: UserError[] }

const toPayload = (result: WebhookResult): WebhookPayloadShape => (result.ok
  ? { webhook: result.webhook, secret: result.secret, userErrors: [] }
  : { webhook: null, secret: null, userErrors: [{ code: result.code, message: result.message, field: result.field }] });

const WebhookPayloadRef = builder.objectRef<WebhookPayloadShape>('WebhookPayload').implement({
  fields: (t) => ({
    webhook: t.field({ type: WebhookRef, nullable: true, resolve: (p) => p.webhook }),
    secret: t.string({
      nullable: true,
      description: 'The signing secret (whsec_...), on createWebhook only: it is shown this once and cannot be read again',
      resolve: (p) => p.secret,
    }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (p) => p.userErrors }),
  }),
});

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  fields: (t) => ({
    url: t.string({ required: true, description: 'https:// only; no loopback, private or link-local address' }),
    events: t.field({ type: [WebhookEventEnum], required: true }),
  }),
});

builder.queryFields((t) => ({
  webhooks: t.field({
    type: [WebhookRef],
    description: "The tenant's webhooks, oldest first",
    resolve: (_root, _args, ctx) => listWebhooks(ctx.db, ctx.tenant.id),
  }),
}));

builder.mutationFields((t) => ({
  createWebhook: t.field({
    type: WebhookPayloadRef,
    args: { input: t.arg({ type: CreateWebhookInput, required: true }) },
    resolve: async (_root, { input }, ctx) => toPayload(await createWebhook(
      { db: ctx.db, secrets: ctx.webhookSecrets, rules: { allowInsecure: ctx.config.allowInsecureSourceUrls, allowPrivate: ctx.config.allowPrivateSourceAddresses } },
      ctx.tenant.id, { url: input.url, events: input.events },
    )),
  }),
  deleteWebhook: t.field({
    type: WebhookPayloadRef,
    description: 'Deletes the webhook, its pending deliveries and its delivery log',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => toPayload(await removeWebhook(ctx.db, ctx.tenant.id, webhookIdOf(String(id)))),
  }),
}));
