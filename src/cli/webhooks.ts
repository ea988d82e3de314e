/**
 * `bulk-import webhooks ...`: create (prints the signing secret, the one time it is shown), list,
 * delete, and deliveries (a webhook's delivery log, newest first). Exit code 2 when the server
 * refused (user errors) or the command could not run.
 */
import type { Command } from 'commander';
import {
  ClientCreateWebhookDocument, ClientDeleteWebhookDocument, ClientWebhookDeliveriesDocument, ClientWebhooksDocument,
  type WebhookEvent,
} from '../generated/gql/graphql.js';
import { clientFrom, print } from './client.js';

const EVENTS = ['JOB_COMPLETED', 'JOB_FAILED', 'JOB_CANCELLED'];

function refused(userErrors: { code: string; message: string }[], json: boolean): void {
  if (json) print(JSON.stringify({ userErrors }, null, 2));
  else for (const e of userErrors) console.error(`${e.code}: ${e.message}`);
  process.exitCode = 2;
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [header, ...rows]) print(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}

export function registerWebhookCommands(program: Command): void {
  const webhooks = program.command('webhooks').description('Webhooks: be told at your https URL when a job ends');

  webhooks.command('create').description('Register a URL; prints the signing secret, shown this once').argument('<url>')
    .option('--events <event...>', `any of ${EVENTS.join(', ')}`, EVENTS)
    .action(async (url: string, opts: { events: string[] }, command: Command) => {
      const { client, json } = clientFrom(command);
      const { createWebhook } = await client.request(ClientCreateWebhookDocument, {
        input: { url, events: opts.events.map((e) => e.toUpperCase() as WebhookEvent) },
      });
      if (!createWebhook.webhook) { refused(createWebhook.userErrors, json); return; }
      if (json) { print(JSON.stringify({ webhook: createWebhook.webhook, secret: createWebhook.secret }, null, 2)); return; }
      console.error(`webhook ${createWebhook.webhook.id} created for ${createWebhook.webhook.events.join(', ')}; its signing secret (shown only now):`);
      print(createWebhook.secret ?? '');
    });

  webhooks.command('list').description('Your webhooks')
    .action(async (_opts: unknown, command: Command) => {
      const { client, json } = clientFrom(command);
      const { webhooks: hooks } = await client.request(ClientWebhooksDocument);
      if (json) { print(JSON.stringify(hooks, null, 2)); return; }
      table(['ID', 'URL', 'EVENTS', 'CREATED'], hooks.map((w) => [w.id, w.url, w.events.join(','), w.createdAt]));
    });

  webhooks.command('delete').description('Delete a webhook, its pending deliveries and its log').argument('<id>')
    .action(async (id: string, _opts: unknown, command: Command) => {
      const { client, json } = clientFrom(command);
      const { deleteWebhook } = await client.request(ClientDeleteWebhookDocument, { id });
      if (!deleteWebhook.webhook) { refused(deleteWebhook.userErrors, json); return; }
      print(json ? JSON.stringify(deleteWebhook.webhook, null, 2) : `webhook ${deleteWebhook.webhook.id} deleted`);
    });

  webhooks.command('deliveries').description("A webhook's delivery log, newest attempt first").argument('<id>')
    .option('--first <n>', 'how many attempts', (v) => Number.parseInt(v, 10), 20)
    .action(async (id: string, opts: { first: number }, command: Command) => {
      const { client, json } = clientFrom(command);
      const { webhooks: hooks } = await client.request(ClientWebhookDeliveriesDocument, { first: opts.first });
      const hook = hooks.find((w) => w.id === id);
      if (!hook) { console.error('Webhook not found'); process.exitCode = 2; return; }
      const attempts = hook.deliveries.edges.map((e) => e.node);
      if (json) { print(JSON.stringify(attempts, null, 2)); return; }
      table(['WHEN', 'EVENT', 'JOB', 'ATTEMPT', 'STATUS', 'HTTP', 'MS', 'ERROR', 'NEXT'], attempts.map((a) => [
        a.attemptedAt, a.event, a.job?.id ?? '-', String(a.attempt), a.status, a.responseStatus == null ? '-' : String(a.responseStatus),
        String(a.durationMs), a.error ?? '', a.nextAttemptAt ?? '',
      ]));
      print(`${attempts.length} of ${hook.deliveries.totalCount}`);
    });
}
