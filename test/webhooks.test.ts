/**
 * Webhooks against a real receiver: an HTTPS server on 127.0.0.1 (self-signed, trusted through
 * SOURCE_CA_FILE; the app allows private addresses, as importFromUrl's tests do, but not plain
 * http) that checks every delivery's signature with the `standardwebhooks` package, the way a
 * tenant's receiver would. It refuses the first attempts at each message on purpose, and is down
 * while the service restarts. The default address rules are checked without a server below.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Webhook as Verifier } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/apiKeys.js';
import {
  CancelJobDocument, CreateWebhookDocument, DeleteWebhookDocument, ImportBatchDocument, UploadImportDocument,
  WebhookDeliveriesDocument, WebhooksDocument, type WebhookDeliveriesQuery,
} from '../src/generated/gql/graphql.js';
import { checkWebhookUrl } from '../src/webhooks/webhookUrl.js';
import { verifyWebhook } from '../examples/webhook-receiver.js';
import { sendWebhook, RESPONSE_PREFIX_BYTES } from '../src/webhooks/send.js';
import { webhookHeaders } from '../src/webhooks/signature.js';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { SecretBox } from '../src/webhooks/secretBox.js';
import { GraphQLTestClient } from './support/client.js';
import { realPostgres } from './support/database.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { memoryLogger, startOwnApp, type OwnApp } from './support/ownApp.js';
import { makeCertificate, type Certificate } from './support/sourceServers.js';

/** Attempts at each message that the receiver's main path refuses before it accepts one. */
const REFUSED_ATTEMPTS = 2;
const RETRY_SCHEDULE_MS = [200, 300, 300, 300, 300, 300, 300, 300];

interface Delivery {
  id: string; timestamp: number; payload: { type: string; timestamp: string; data: Record<string, unknown> };
  /** What the README's receiver (examples/webhook-receiver.ts) made of it, and of it with its body altered. */
  example: unknown; tampered: unknown;
}

let dir: string;
let certificate: Certificate;
let t: OwnApp;
const logs = memoryLogger('debug');
let a: GraphQLTestClient;
let b: GraphQLTestClient;
/** The main webhook's secret, as createWebhook showed it: what the receiver verifies with. */
let secret = '';
let mainHookId = '';

/** Verified deliveries to /hooks/main, and every request to each path. */
const delivered: Delivery[] = [];
const requests = new Map<string, number>();
const attemptsPerMessage = new Map<string, number>();

function receiver(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const pathname = req.url ?? '/';
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    switch (pathname) {
      case '/hooks/main': {
        const id = String(req.headers['webhook-id']);
        const seen = (attemptsPerMessage.get(id) ?? 0) + 1;
        attemptsPerMessage.set(id, seen);
        if (seen <= REFUSED_ATTEMPTS) { res.writeHead(503).end('not yet'); return; }
        let payload: Delivery['payload'];
        try {
          payload = new Verifier(secret).verify(body, req.headers as Record<string, string>) as Delivery['payload'];
        } catch (err) {
          res.writeHead(401).end(`bad signature: ${(err as Error).message}`);
          return;
        }
        delivered.push({
          id, timestamp: Number(req.headers['webhook-timestamp']), payload,
          example: verifyWebhook(secret, req.headers, body), tampered: verifyWebhook(secret, req.headers, body.replace('"rows', '"Rows')),
        });
        res.writeHead(204).end();
        return;
      }
      case '/hooks/redirect': res.writeHead(302, { location: '/hooks/main' }).end(); return;
      case '/hooks/big': res.writeHead(500, { 'content-type': 'text/plain' }).end('x'.repeat(64 * 1024)); return;
      case '/hooks/slow': return; // never answers
      default: res.writeHead(404).end();
    }
  });
}

let server: https.Server;
let port = 0;

async function receiverUp(): Promise<void> {
  server = https.createServer({ cert: certificate.cert, key: certificate.key }, receiver);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
}

async function receiverDown(): Promise<void> {
  await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
}

const origin = () => `https://127.0.0.1:${port}`;

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, seen?: () => unknown, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${seen ? `; last seen: ${JSON.stringify(seen())}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Attempt = WebhookDeliveriesQuery['webhooks'][number]['deliveries']['edges'][number]['node'];

/** The delivery log of one of A's webhooks, oldest attempt first. */
async function attemptsOf(hookId: string): Promise<Attempt[]> {
  const { webhooks } = await a.data(WebhookDeliveriesDocument, { first: 200 });
  const hook = webhooks.find((w) => w.id === hookId);
  if (!hook) throw new Error(`webhook ${hookId} not listed`);
  return hook.deliveries.edges.map((e) => e.node).reverse();
}

const deliveryOf = (jobId: string) => delivered.find((d) => d.payload.data.id === jobId);

async function createHook(client: GraphQLTestClient, url: string, events: ('JOB_COMPLETED' | 'JOB_FAILED' | 'JOB_CANCELLED')[]) {
  return (await client.data(CreateWebhookDocument, { input: { url, events } })).createWebhook;
}

const record = (i: number) => ({ event_type: 'track', event_name: 'clicked', user_id: `u${i}`, inserted_at: '2024-07-28T08:55:35Z' });

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-webhooks-'));
  certificate = makeCertificate(dir);
  await receiverUp();
  t = await startOwnApp({
    allowPrivateSourceAddresses: true, sourceCaFile: certificate.certFile, logLevel: 'debug',
    webhookRetryScheduleMs: RETRY_SCHEDULE_MS, webhookTimeoutMs: 5000, pollIntervalMs: 100, shutdownGraceMs: 3000,
  }, { log: logs.log });
  a = new GraphQLTestClient(t.url, t.wsUrl, await createKey(t.app.db, 'hooks-a'));
  b = new GraphQLTestClient(t.url, t.wsUrl, await createKey(t.app.db, 'hooks-b'));
}, 180_000); // an embedded database's migrations take a while on a loaded machine

afterAll(async () => {
  await t?.close();
  await receiverDown().catch(() => {});
  await fs.rm(dir, { recursive: true, force: true });
});

describe('webhooks', () => {
  it('shows the signing secret once, at creation, and keeps it only encrypted', async () => {
    const created = await createHook(a, `${origin()}/hooks/main`, ['JOB_COMPLETED', 'JOB_FAILED', 'JOB_CANCELLED']);
    expect(created.userErrors).toEqual([]);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(created.webhook).toMatchObject({ url: `${origin()}/hooks/main`, events: ['JOB_COMPLETED', 'JOB_FAILED', 'JOB_CANCELLED'] });
    secret = created.secret!;
    mainHookId = created.webhook!.id;

    const { webhooks } = await a.data(WebhooksDocument);
    expect(webhooks).toEqual([created.webhook]);
    // Nothing the database keeps, and nothing the service logs, holds the secret in the clear.
    const rows = await t.app.db.query('select * from webhooks');
    expect(JSON.stringify(rows)).not.toContain(secret.slice('whsec_'.length));
    expect(logs.text()).not.toContain(secret.slice('whsec_'.length));
    // Without WEBHOOK_SECRETS_KEY, the key is a file in the data folder that only its owner may read.
    const stat = await fs.stat(path.join(t.dataDir, 'webhook-secrets.key'));
    expect(stat.mode & 0o077).toBe(0);
  });

  it('opens a secret only with the key that sealed it, and says so; reads the retry schedule as written', () => {
    const one = new SecretBox(randomBytes(32));
    const sealed = one.seal(secret);
    expect(sealed).not.toContain(secret.slice('whsec_'.length));
    expect(one.open(sealed)).toBe(secret);
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow(/encrypted with another key .* every instance needs the same key/);
    const forged = sealed.split(':');
    forged[4] = Buffer.from('whsec_forged').toString('base64');
    expect(() => one.open(forged.join(':'))).toThrow(); // GCM's tag: altered text is refused, not opened
    expect(() => new SecretBox(randomBytes(16))).toThrow('WEBHOOK_SECRETS_KEY must be 32 bytes');
    expect(loadConfig({ WEBHOOK_RETRY_SCHEDULE: '500ms, 2s,1m,1.5h' }).webhookRetryScheduleMs).toEqual([500, 2000, 60_000, 5_400_000]);
    expect(loadConfig({}).webhookRetryScheduleMs).toEqual([5000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: '5s,soon' })).toThrow('WEBHOOK_RETRY_SCHEDULE must be a comma-separated list of durations');
  });

  it('delivers JOB_COMPLETED, signed, after the receiver refused the first attempts; the log shows each attempt', async () => {
    const { importBatch } = await a.data(ImportBatchDocument, { input: { kind: 'EVENTS', records: [record(1), record(2)] } });
    const job = importBatch.job!;
    expect(job.status).toBe('COMPLETED');
    const delivery = await until('JOB_COMPLETED', () => deliveryOf(job.id));
    expect(delivery.payload).toMatchObject({ type: 'job.completed', data: { id: job.id, kind: 'EVENTS', status: 'COMPLETED', rowsImported: 2, rowsFailed: 0, dryRun: false } });
    expect(Math.abs(delivery.timestamp - Date.now() / 1000)).toBeLessThan(60);
    // The README's few lines of node:crypto agree with the standardwebhooks package.
    expect(delivery.example).toEqual(delivery.payload);
    expect(delivery.tampered).toBeNull();
    const readme = await fs.readFile('README.md', 'utf8');
    expect(readme).toContain(['```ts', await fs.readFile('examples/webhook-receiver.ts', 'utf8')].join('\n'));

    // The receiver has answered; the log has the answer once the attempt's outcome is written.
    const attempts = await until('the logged success', async () => {
      const log = (await attemptsOf(mainHookId)).filter((x) => x.job?.id === job.id);
      return log.at(-1)?.status === 'SUCCEEDED' ? log : undefined;
    });
    expect(attempts.map((x) => [x.attempt, x.status, x.responseStatus])).toEqual([[1, 'FAILED', 503], [2, 'FAILED', 503], [3, 'SUCCEEDED', 204]]);
    expect(attempts[0]).toMatchObject({ event: 'JOB_COMPLETED', responseBody: 'not yet', error: 'HTTP 503' });
    expect(attempts[0].nextAttemptAt).not.toBeNull();
    expect(attempts[2].nextAttemptAt).toBeNull();
    // One message, one id, on every attempt: what lets a receiver drop a repeat.
    expect(new Set(attempts.map((x) => x.messageId))).toEqual(new Set([delivery.id]));
    // The retries waited as the schedule says (200 ms, then 300 ms), not at once.
    const gap = Date.parse(attempts[1].attemptedAt) - Date.parse(attempts[0].attemptedAt);
    expect(gap).toBeGreaterThanOrEqual(RETRY_SCHEDULE_MS[0]);
  });

  it('delivers JOB_FAILED with the reason', async () => {
    const { importBatch } = await a.data(ImportBatchDocument, { input: { kind: 'EVENTS', maxErrors: 0, records: [record(1), { event_type: 'nope' }] } });
    const job = importBatch.job!;
    expect(job.status).toBe('FAILED');
    const delivery = await until('JOB_FAILED', () => deliveryOf(job.id));
    expect(delivery.payload).toMatchObject({ type: 'job.failed', data: { id: job.id, status: 'FAILED', failureReason: expect.stringContaining('maxErrors') } });
  });

  it("keeps a tenant's webhooks from every other tenant", async () => {
    expect((await b.data(WebhooksDocument)).webhooks).toEqual([]);
    const { deleteWebhook } = await b.data(DeleteWebhookDocument, { id: mainHookId });
    expect(deleteWebhook).toEqual({ webhook: null, secret: null, userErrors: [{ code: 'NOT_FOUND', message: 'Webhook not found', field: ['id'] }] });
    expect((await a.data(WebhooksDocument)).webhooks.map((w) => w.id)).toEqual([mainHookId]);
    // B's job ends reach none of A's webhooks: B's ends first, then A's, which arrives alone.
    const other = (await b.data(ImportBatchDocument, { input: { kind: 'EVENTS', records: [record(3)] } })).importBatch.job!;
    const mine = (await a.data(ImportBatchDocument, { input: { kind: 'EVENTS', records: [record(4)] } })).importBatch.job!;
    await until("A's JOB_COMPLETED", () => deliveryOf(mine.id));
    expect(deliveryOf(other.id)).toBeUndefined();
    expect((await attemptsOf(mainHookId)).filter((x) => x.job?.id === other.id)).toEqual([]);
  });

  it('refuses addresses importFromUrl refuses, at creation', async () => {
    const refused = async (url: string) => (await createHook(a, url, ['JOB_COMPLETED'])).userErrors;
    expect(await refused(`http://127.0.0.1:${port}/hooks/main`)).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('https://'), field: ['input', 'url'] }]);
    expect(await refused('ftp://example.com/hook')).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('https://'), field: ['input', 'url'] }]);
    expect(await refused('https://user:pass@example.com/hook')).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('user or password'), field: ['input', 'url'] }]);
    expect(await refused('not a url')).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('not a valid URL'), field: ['input', 'url'] }]);
    expect((await a.data(CreateWebhookDocument, { input: { url: `${origin()}/hooks/main`, events: [] } })).createWebhook.userErrors)
      .toEqual([{ code: 'INVALID_INPUT', message: 'events must name at least one event', field: ['input', 'events'] }]);
    // The default rules (no private addresses), without a server.
    const rules = { allowInsecure: false, allowPrivate: false };
    for (const url of ['https://127.0.0.1/h', 'https://10.1.2.3/h', 'https://169.254.169.254/latest', 'https://[::1]/h', 'https://[::ffff:127.0.0.1]/h', 'https://localhost/h']) {
      expect(await checkWebhookUrl(url, rules), url).toEqual({ ok: false, message: expect.stringContaining('loopback or private address') });
    }
  });

  it('checks the address again at delivery, where it connects (a name may resolve elsewhere by then)', async () => {
    const before = requests.get('/hooks/main') ?? 0;
    const result = await sendWebhook(`https://localhost:${port}/hooks/main`, webhookHeaders(secret, 'msg_x', '{}'), '{}',
      { allowInsecure: false, allowPrivate: false, timeoutMs: 2000, caFile: certificate.certFile });
    expect(result).toMatchObject({ succeeded: false, responseStatus: null, error: expect.stringContaining('localhost resolves to a loopback or private address') });
    expect(requests.get('/hooks/main') ?? 0).toBe(before);
  });

  it('does not follow redirects, keeps only the start of an answer, bounds an attempt in time, and gives up after the schedule', async () => {
    const settings = { allowInsecure: false, allowPrivate: true, timeoutMs: 500, caFile: certificate.certFile };
    const slow = await sendWebhook(`${origin()}/hooks/slow`, webhookHeaders(secret, 'msg_slow', '{}'), '{}', settings);
    expect(slow).toMatchObject({ succeeded: false, responseStatus: null, error: 'no answer within 0.5 s' });
    expect(slow.durationMs).toBeLessThan(2000);

    const redirect = await createHook(a, `${origin()}/hooks/redirect`, ['JOB_COMPLETED']);
    const big = await createHook(a, `${origin()}/hooks/big`, ['JOB_COMPLETED']);
    const job = (await a.data(ImportBatchDocument, { input: { kind: 'EVENTS', records: [record(5)] } })).importBatch.job!;
    const tries = RETRY_SCHEDULE_MS.length + 1;
    let last: Attempt[] = [];
    const bigLog = await until('the big answers given up', async () => {
      const log = last = await attemptsOf(big.webhook!.id);
      return log.length === tries && log[tries - 1].nextAttemptAt === null ? log : undefined;
    }, () => last.map((x) => [x.attempt, x.status, x.responseStatus, x.error, x.attemptedAt, x.nextAttemptAt]), 90_000);
    expect(bigLog.map((x) => [x.status, x.responseStatus, x.job?.id, x.error])).toEqual(bigLog.map(() => ['FAILED', 500, job.id, 'HTTP 500']));
    expect(bigLog[0].responseBody).toBe('x'.repeat(RESPONSE_PREFIX_BYTES));
    const redirectLog = await until('the redirects given up', async () => {
      const log = await attemptsOf(redirect.webhook!.id);
      return log.length === tries && log[tries - 1].nextAttemptAt === null ? log : undefined;
    }, undefined, 90_000);
    expect(redirectLog[0]).toMatchObject({ status: 'FAILED', responseStatus: 302, error: 'HTTP 302: redirects are not followed' });
    // Given up means no more attempts.
    await new Promise((r) => setTimeout(r, 800));
    expect(await attemptsOf(big.webhook!.id)).toHaveLength(tries);
    const deleted = await a.data(DeleteWebhookDocument, { id: big.webhook!.id });
    expect(deleted.deleteWebhook).toMatchObject({ webhook: { id: big.webhook!.id }, secret: null, userErrors: [] });
    await a.data(DeleteWebhookDocument, { id: redirect.webhook!.id });
    expect((await a.data(WebhooksDocument)).webhooks.map((w) => w.id)).toEqual([mainHookId]);
  }, 240_000); // nine attempts at each, a few seconds apart on an embedded database on a loaded machine

  it.runIf(realPostgres)('with two instances on one database, each event is delivered by one of them, once', async () => {
    // The second instance shares the data folder, so the webhook secrets' key file too (a fleet sets WEBHOOK_SECRETS_KEY).
    const second = await buildApp(loadConfig({}, { ...t.app.config, port: 0, logLevel: 'silent' }));
    await second.start();
    try {
      const jobs: { id: string }[] = [];
      for (let i = 0; i < 4; i++) jobs.push((await a.data(ImportBatchDocument, { input: { kind: 'EVENTS', records: [record(10 + i)] } })).importBatch.job!);
      for (const job of jobs) await until(`${job.id} delivered`, () => deliveryOf(job.id));
      await new Promise((r) => setTimeout(r, 500));
      for (const job of jobs) expect(delivered.filter((d) => d.payload.data.id === job.id)).toHaveLength(1);
      const log = await until('every success logged', async () => {
        const attempts = (await attemptsOf(mainHookId)).filter((x) => jobs.some((j) => j.id === x.job?.id));
        return attempts.filter((x) => x.status === 'SUCCEEDED').length === jobs.length ? attempts : undefined;
      });
      // Each message was attempted 1, 2, 3: no attempt twice, whichever instance made it.
      for (const job of jobs) expect(log.filter((x) => x.job?.id === job.id).map((x) => x.attempt)).toEqual([1, 2, 3]);
    } finally {
      await second.stop();
    }
  });

  it('bulk-import webhooks create, list, deliveries and delete', async () => {
    const cli = async (...args: string[]) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, ['bin/bulk-import.js', 'webhooks', ...args], {
          env: { ...process.env, BULK_IMPORT_URL: t.url, BULK_IMPORT_KEY: a.key! }, timeout: 60_000,
        });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const created = await cli('create', `${origin()}/hooks/cli`, '--events', 'job_failed');
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^whsec_[A-Za-z0-9+/]{32}\n$/); // the secret alone on stdout, for scripts
    const listed = JSON.parse((await cli('list', '--json')).stdout) as { id: string; url: string; events: string[] }[];
    const hook = listed.find((w) => w.url === `${origin()}/hooks/cli`)!;
    expect(hook.events).toEqual(['JOB_FAILED']);
    const log = await cli('deliveries', mainHookId, '--first', '3');
    expect(log.stdout.split('\n')[0]).toMatch(/^WHEN +EVENT +JOB +ATTEMPT +STATUS +HTTP/);
    expect(log.stdout).toContain('SUCCEEDED');
    expect(await cli('delete', hook.id)).toMatchObject({ code: 0, stdout: `webhook ${hook.id} deleted\n` });
    expect(await cli('delete', hook.id)).toMatchObject({ code: 2, stderr: 'NOT_FOUND: Webhook not found\n' });
  }, 240_000); // five runs of the command, each a Node process that loads TypeScript

  it('delivers JOB_CANCELLED from the durable outbox after the service restarted while the receiver was down', async () => {
    // No workers: the upload stays QUEUED, so cancelling it ends it at once. Retries a second
    // apart, enough of them to outlast the restart.
    const patient = { workerConcurrency: 0, webhookRetryScheduleMs: Array.from({ length: 30 }, () => 1000) };
    await t.restart(patient);
    a = new GraphQLTestClient(t.url, t.wsUrl, a.key);
    const { body } = await a.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'e.csv', content: eventsCsv(manyEvents(3)) });
    const queued = body.data!.uploadImport.job!;
    expect(queued.status).toBe('QUEUED');
    await receiverDown();
    const cancelled = (await a.data(CancelJobDocument, { id: queued.id })).cancelJob.job!;
    expect(cancelled.status).toBe('CANCELLED');
    await waitForJob(a, queued.id);
    const refused = await until('a refused attempt', async () => {
      const log = (await attemptsOf(mainHookId)).filter((x) => x.job?.id === queued.id);
      return log.length > 0 ? log : undefined;
    });
    expect(refused[0]).toMatchObject({ event: 'JOB_CANCELLED', status: 'FAILED', responseStatus: null, error: expect.stringContaining('ECONNREFUSED') });

    await t.restart(patient);
    a = new GraphQLTestClient(t.url, t.wsUrl, a.key);
    const restartedAt = Date.now();
    await receiverUp();
    const delivery = await until('JOB_CANCELLED', () => deliveryOf(queued.id));
    expect(delivery.payload).toMatchObject({ type: 'job.cancelled', data: { id: queued.id, status: 'CANCELLED' } });
    expect(delivery.timestamp * 1000).toBeGreaterThanOrEqual(Math.floor(restartedAt / 1000) * 1000);
    expect(delivery.id).toBe(refused[0].messageId);
    const log = await until('the logged success', async () => {
      const attempts = (await attemptsOf(mainHookId)).filter((x) => x.job?.id === queued.id);
      return attempts.at(-1)?.status === 'SUCCEEDED' ? attempts : undefined;
    });
    expect(log.at(-1)).toMatchObject({ status: 'SUCCEEDED', responseStatus: 204 });
    expect(log.map((x) => x.attempt)).toEqual(log.map((_, i) => i + 1));
    // Exactly once per job end in the outbox: the cancel raised one message, no more.
    expect(new Set(log.map((x) => x.messageId)).size).toBe(1);
    expect(await t.app.db.query('select * from job_endings')).toEqual([]);
    expect(logs.text()).not.toContain(secret.slice('whsec_'.length));
  });
});
