/**
 * A hostile tenant against the second wave's surfaces (staged uploads, webhooks, importFromUrl's
 * redirects), through the real server: each limit holds however the requests are timed.
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnMappingsDocument, CreateStagedUploadDocument, CreateWebhookDocument, ImportBatchDocument, ImportFromUrlDocument, ImportStagedUploadDocument, StagedUploadDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { spoolFiles } from './support/jobs.js';
import { postGraphql } from './support/rawGraphql.js';
import { putPart } from './support/stagedParts.js';
import { xlsxBomb } from './support/xlsxBomb.js';
import { startTestApp, type TestApp } from './support/testApp.js';

describe('a hostile tenant', () => {
  let t: TestApp;

  /** A source that never stops sending on the answers it does not mean to be read (a redirect's, an error's). */
  let source: http.Server;
  let origin = '';
  /** When each path of the source last got a request. */
  const requested = new Map<string, number>();
  /** Connections of the source that are still open. */
  const openConnections = new Set<http.ServerResponse>();

  beforeAll(async () => {
    t = await startTestApp({
      allowInsecureSourceUrls: true, allowPrivateSourceAddresses: true, webhookTimeoutMs: 5000, webhookRetryScheduleMs: [600_000],
      maxActiveJobsPerTenant: 500,
    });
    source = http.createServer((req, res) => {
      requested.set(req.url ?? '', Date.now());
      if (req.url?.startsWith('/hooks/slow')) { req.resume(); return; } // a receiver that never answers
      if (req.url === '/hooks/fast') { req.resume(); req.on('end', () => res.writeHead(204).end()); return; }
      openConnections.add(res);
      res.on('close', () => openConnections.delete(res));
      const endless = (status: number, headers: Record<string, string>) => {
        res.writeHead(status, headers);
        const timer = setInterval(() => res.write('x'.repeat(16_384)), 5);
        res.on('close', () => clearInterval(timer));
      };
      if (req.url === '/redirect') endless(302, { location: '/events.csv' });
      else if (req.url === '/broken') endless(500, { 'content-type': 'text/plain' });
      else res.writeHead(200, { 'content-type': 'text/csv' }).end(eventsCsv(manyEvents(10)));
    });
    await new Promise<void>((resolve) => source.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(source.address() as net.AddressInfo).port}`;
  }, 60_000);
  afterAll(async () => {
    source?.closeAllConnections();
    source?.close();
    await t?.close();
  });

  it('cannot pass the cap of 10 staged uploads by sending its creates all at once', async () => {
    const rush = await t.clientFor('staged-rush');
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      rush.data(CreateStagedUploadDocument, { input: { filename: `rush${i}.csv`, fileSize: 100 } })));
    const created = answers.filter((a) => a.createStagedUpload.stagedUpload !== null);
    expect(created.length).toBe(10);
    expect(answers.filter((a) => a.createStagedUpload.userErrors[0]?.code === 'IMPORT_IN_PROGRESS')).toHaveLength(20);
    const [row] = await t.app.db.query<{ n: number }>(
      "select count(*)::int as n from staged_uploads s join tenants t on t.id = s.tenant_id where t.name = 'staged-rush'");
    expect(row.n).toBe(10);
    // The refused ones' files do not stay behind in the spool either.
    expect(await spoolFiles(t.dataDir)).toHaveLength(10);
  });

  it('a part PUT that sends Expect: 100-continue is refused before its body is asked for, an accepted one is asked for it', async () => {
    const sender = await t.clientFor('staged-continue');
    const body = Buffer.from(eventsCsv(manyEvents(5)));
    const upload = (await sender.data(CreateStagedUploadDocument, { input: { filename: 'c.csv', fileSize: body.length } })).createStagedUpload.stagedUpload!;
    const url = new URL(upload.parts[0].url);
    /** The headers of a part PUT sent alone, and what the server answers within `ms`. */
    const headersOnly = (target: string, ms = 700) => new Promise<string>((resolve) => {
      const socket = net.connect(Number(url.port), '127.0.0.1');
      let answer = '';
      socket.on('data', (d) => { answer += d; });
      socket.on('error', () => {});
      socket.write(`PUT ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`);
      setTimeout(() => { socket.destroy(); resolve(answer); }, ms);
    });
    const tampered = await headersOnly(`${url.pathname}${url.search.replace(/sig=[0-9a-f]/, 'sig=x')}`);
    expect(tampered).toMatch(/^HTTP\/1\.1 403/); // no "100 Continue" first: the client never sends the part
    const wrongPart = await headersOnly(`${url.pathname.replace(/\/1$/, '/7')}${url.search}`);
    expect(wrongPart).toMatch(/^HTTP\/1\.1 403/);
    expect(await headersOnly(`${url.pathname}${url.search}`)).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
  });

  it('cannot make the server read staged files it will not import: one importStagedUpload per operation, IMPORT_IN_PROGRESS before reading', async () => {
    const idle = await startTestApp({ workerConcurrency: 0 }); // jobs stay QUEUED: the tenant is at its one active job
    try {
      const busy = await idle.clientFor('staged-busy');
      const body = Buffer.from(eventsCsv(manyEvents(100)));
      const staged = async (name: string) => {
        // The SHA-256 declared is wrong: reading the file would find it, refuse it and remove the upload.
        const upload = (await busy.data(CreateStagedUploadDocument, { input: { filename: name, fileSize: body.length, sha256: '0'.repeat(64) } })).createStagedUpload.stagedUpload!;
        expect(await putPart(upload.parts[0].url, body)).toBe(200);
        return upload.id;
      };
      const [a, b] = [await staged('a.csv'), await staged('b.csv')];
      const both = await postGraphql(idle.url, busy.key, `mutation($a: ID!, $b: ID!) {
        a: importStagedUpload(input: { stagedUploadId: $a, kind: EVENTS }) { job { id } userErrors { code } }
        b: importStagedUpload(input: { stagedUploadId: $b, kind: EVENTS }) { job { id } userErrors { code } } }`, { a, b });
      expect(both.json?.errors?.[0]?.message).toContain('An operation may start one import');

      const queued = (await busy.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'q.csv', content: eventsCsv(manyEvents(3, 500)) })).body.data!.uploadImport;
      expect(queued.job?.status).toBe('QUEUED');
      const refused = (await busy.data(ImportStagedUploadDocument, { input: { stagedUploadId: a, kind: 'EVENTS' } })).importStagedUpload;
      expect(refused.userErrors[0]).toMatchObject({ code: 'IMPORT_IN_PROGRESS' });
      // Refused before a byte of it was read: the upload is still there, to import later.
      expect((await busy.data(StagedUploadDocument, { id: a })).stagedUpload?.id).toBe(a);
    } finally {
      await idle.close();
    }
  });

  it("importFromUrl does not go on reading a redirect's or an error's endless body once it has its answer", async () => {
    const client = await t.clientFor('endless-bodies');
    const redirected = (await client.data(ImportFromUrlDocument, { input: { url: `${origin}/redirect`, kind: 'EVENTS', dryRun: true } })).importFromUrl;
    expect(redirected.userErrors).toEqual([]);
    const other = await t.clientFor('endless-bodies-2');
    const broken = (await other.data(ImportFromUrlDocument, { input: { url: `${origin}/broken`, kind: 'EVENTS' } })).importFromUrl;
    expect(broken.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('HTTP 500') });
    // Each of those answers' connections is closed: the service does not download them for ever.
    const deadline = Date.now() + 3000;
    while (openConnections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(openConnections.size).toBe(0);
  });

  it('cannot pass the cap of 20 webhooks by sending its creates all at once', async () => {
    const rush = await t.clientFor('webhook-rush');
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      rush.data(CreateWebhookDocument, { input: { url: `${origin}/hooks/rush${i}`, events: ['JOB_COMPLETED'] } })));
    expect(answers.filter((a) => a.createWebhook.webhook !== null)).toHaveLength(20);
    const [row] = await t.app.db.query<{ n: number }>(
      "select count(*)::int as n from webhooks w join tenants t on t.id = w.tenant_id where t.name = 'webhook-rush'");
    expect(row.n).toBe(20);
  });

  it("one tenant's webhooks that never answer do not hold up another tenant's deliveries", async () => {
    const hostile = await t.clientFor('slow-receivers');
    for (let i = 0; i < 10; i++) {
      const made = (await hostile.data(CreateWebhookDocument, { input: { url: `${origin}/hooks/slow${i}`, events: ['JOB_COMPLETED'] } })).createWebhook;
      expect(made.userErrors).toEqual([]);
    }
    const record = { event_type: 'track', event_name: 'clicked', user_id: 'u1', inserted_at: '2024-07-28T08:55:35Z' };
    // One job end: ten deliveries, each holding a slot of the dispatcher until its timeout.
    expect((await hostile.data(ImportBatchDocument, { input: { kind: 'EVENTS', records: [record] } })).importBatch.job?.status).toBe('COMPLETED');
    const started = Date.now();
    while ([...requested.keys()].filter((k) => k.startsWith('/hooks/slow')).length < 2 && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 20));

    const neighbour = await t.clientFor('fast-receiver');
    expect((await neighbour.data(CreateWebhookDocument, { input: { url: `${origin}/hooks/fast`, events: ['JOB_COMPLETED'] } })).createWebhook.userErrors).toEqual([]);
    expect((await neighbour.data(ImportBatchDocument, { input: { kind: 'EVENTS', records: [record] } })).importBatch.job?.status).toBe('COMPLETED');
    const ended = Date.now();
    while (!requested.has('/hooks/fast') && Date.now() - ended < 10_000) await new Promise((r) => setTimeout(r, 20));
    // Well before the hostile tenant's attempts time out (5 s).
    expect(requested.get('/hooks/fast')! - ended).toBeLessThan(2000);
  }, 30_000);

  it('cannot keep column mappings without bound: at most 100 saved, refused past that with the reason', async () => {
    const hoarder = await t.clientFor('mapping-hoarder');
    const save = async (name: string) => (await hoarder.upload(UploadImportDocument, {
      input: { kind: 'USERS', columnMapping: [{ from: 'Full Name', to: 'NAME' }], saveMappingAs: name, allowDuplicateFile: true },
    }, { name: 'staff.csv', content: Buffer.from('Full Name\nAsha\n') })).body.data!.uploadImport;
    for (let i = 0; i < 100; i++) expect((await save(`m${i}`)).userErrors).toEqual([]);
    const refused = await save('m100');
    expect(refused.job).toBeNull();
    expect(refused.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['input', 'saveMappingAs'], message: expect.stringContaining('100') });
    expect((await save('m7')).userErrors).toEqual([]); // replacing one it has is fine
    expect((await hoarder.data(ColumnMappingsDocument, {})).columnMappings).toHaveLength(100);
  }, 120_000);

  it('cannot save a mapping with a header of hundreds of KiB, which every later import of the kind would load', async () => {
    const wide = await t.clientFor('mapping-wide');
    const extra = Array.from({ length: 400 }, (_, i) => `c${i}${'x'.repeat(900)}`);
    const csv = `Full Name,${extra.join(',')}\nAsha,${extra.map(() => '').join(',')}\n`;
    const { body } = await wide.upload(UploadImportDocument, {
      input: { kind: 'USERS', columnMapping: [{ from: 'Full Name', to: 'NAME' }, ...extra.map((from) => ({ from, to: null }))], saveMappingAs: 'wide' },
    }, { name: 'wide.csv', content: Buffer.from(csv) });
    expect(body.errors).toBeUndefined();
    expect(body.data!.uploadImport.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['input', 'saveMappingAs'] });
    expect((await wide.data(ColumnMappingsDocument, {})).columnMappings).toEqual([]);
  });

  // exceljs cached every shared string and only the NDJSON written counted against the limit: this
  // workbook grew the server ~250 MiB and was answered INVALID_FILE "The file is empty".
  it("an XLSX whose shared strings inflate past MAX_UNCOMPRESSED_SIZE is FILE_TOO_LARGE, without holding them in memory", async () => {
    // 200 MB of shared strings in about 450 KiB; the app's MAX_UNCOMPRESSED_SIZE is 4 x 1 GiB by
    // default, so the test app's own is lowered to 16 MiB below.
    const bomb = await xlsxBomb(200 << 20);
    expect(bomb.length).toBeLessThan(1 << 20);
    const small = await startTestApp({ maxUncompressedSize: 16 << 20 });
    try {
      const sender = await small.clientFor('xlsx-bomb');
      const rssBefore = process.memoryUsage().rss;
      let peak = rssBefore;
      const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 10);
      const { body } = await sender.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'bomb.xlsx', content: bomb });
      clearInterval(sampler);
      expect(body.data!.uploadImport.userErrors[0]).toMatchObject({ code: 'FILE_TOO_LARGE', message: expect.stringContaining('MAX_UNCOMPRESSED_SIZE') });
      expect(peak - rssBefore).toBeLessThan(100 << 20);
    } finally {
      await small.close();
    }
  }, 60_000);
});
