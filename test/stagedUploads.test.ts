/**
 * Staged uploads on the folder spool (the embedded default's): parts PUT to the service's own
 * signed URLs, in any order, again after a failure; resumed from what stagedUpload says arrived;
 * limits and refusals that hold before any byte is stored.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateStagedUploadDocument, ImportStagedUploadDocument, StagedUploadDocument } from '../src/generated/gql/graphql.js';
import { sweepStagedUploads } from '../src/intake/stagedUploads/stagedSweep.js';
import { folderStaging } from '../src/intake/stagedUploads/folderStaging.js';
import { sweepSpool } from '../src/spool/spool.js';
import { LockIds } from '../src/db/lockIds.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobUuid, spoolFiles, waitForJob } from './support/jobs.js';
import { partOf, putPart, putPartCut, shuffled } from './support/stagedParts.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const ROWS = 100_000;
const stagedUuid = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1];
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function partPutsReceived(t: TestApp): Promise<number> {
  const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
  return Number(/bulk_import_staged_part_puts_total\{outcome="received"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/** What the operator sees of how much of staged files importStagedUpload read back: whole to check them, or to decode them. */
async function stagedBytesRead(t: TestApp, purpose: 'check' | 'decode'): Promise<number> {
  const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
  return Number(new RegExp(`bulk_import_staged_bytes_read_total\\{purpose="${purpose}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}
const stagedBytesChecked = (t: TestApp) => stagedBytesRead(t, 'check');

describe('staged uploads (folder spool)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  let file: Buffer;
  let second: Buffer;

  const create = async (c: GraphQLTestClient, body: Buffer, extra: { sha256?: string; filename?: string; allowDuplicateFile?: boolean } = {}) =>
    (await c.data(CreateStagedUploadDocument, { input: { filename: extra.filename ?? 'events.csv', fileSize: body.length, ...extra } })).createStagedUpload;

  beforeAll(async () => {
    t = await startTestApp({ maxActiveJobsPerTenant: 4 });
    client = await t.clientFor('staged');
    file = Buffer.from(eventsCsv(manyEvents(ROWS)));
    second = Buffer.from(eventsCsv(manyEvents(ROWS, ROWS)));
  }, 60_000);
  afterAll(async () => { await t?.close(); });

  it('imports exact rows from parts sent shuffled, one twice, one cut mid-part and sent again', async () => {
    const { stagedUpload, userErrors } = await create(client, file, { sha256: sha256(file) });
    expect(userErrors).toEqual([]);
    const upload = stagedUpload!;
    expect(upload.partSize).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    expect(upload.parts.length).toBe(Math.ceil(file.length / upload.partSize));
    expect(upload.parts.length).toBeGreaterThanOrEqual(3);
    expect(upload.parts.every((p) => !p.received)).toBe(true);

    const [cut, ...rest] = shuffled(upload.parts);
    await putPartCut(cut.url, partOf(file, upload.partSize, cut.number), 1024 * 1024);
    for (const part of rest) expect(await putPart(part.url, partOf(file, upload.partSize, part.number))).toBe(200);
    expect(await putPart(rest[0].url, partOf(file, upload.partSize, rest[0].number))).toBe(200); // sent twice

    const after = (await client.data(StagedUploadDocument, { id: upload.id })).stagedUpload!;
    expect(after.parts.filter((p) => !p.received).map((p) => p.number)).toEqual([cut.number]);
    const early = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } })).importStagedUpload;
    expect(early.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining(`Part(s) ${cut.number} `) });

    expect(await putPart(cut.url, partOf(file, upload.partSize, cut.number))).toBe(200);
    const { job, userErrors: importErrors } = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } })).importStagedUpload;
    expect(importErrors).toEqual([]);
    expect(job).toMatchObject({ fileSize: file.length, filename: 'events.csv', format: 'CSV' });
    const done = await waitForJob(client, job!.id, 60_000);
    expect(done).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS, rowsFailed: 0 });
    const [counted] = await t.app.db.query<{ n: number; lines: number }>(
      'select count(*)::int as n, count(distinct line)::int as lines from events where job_id = $1', [jobUuid(job!.id)]);
    expect(counted).toEqual({ n: ROWS, lines: ROWS });

    const again = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } })).importStagedUpload;
    expect(again.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('already imported') });
    // Nothing left to import: a client that kept the upload to import it again lets it go.
    expect((await client.data(StagedUploadDocument, { id: upload.id })).stagedUpload).toBeNull();
    // The declared SHA-256 is now a file the tenant imported: refused before any byte travels.
    expect((await create(client, file, { sha256: sha256(file) })).userErrors[0]).toMatchObject({ code: 'DUPLICATE_FILE', field: ['input', 'sha256'] });
  }, 120_000);

  it('a client killed half-way resumes: it asks which parts arrived and sends only the others', async () => {
    const body = second;
    const upload = (await create(client, body)).stagedUpload!;
    const before = await partPutsReceived(t);
    const first = upload.parts.slice(0, 2);
    for (const part of first) expect(await putPart(part.url, partOf(body, upload.partSize, part.number))).toBe(200);
    // The "restarted" client knows only the id.
    const resumed = (await client.data(StagedUploadDocument, { id: upload.id })).stagedUpload!;
    const missing = resumed.parts.filter((p) => !p.received);
    expect(missing.map((p) => p.number)).toEqual(upload.parts.slice(2).map((p) => p.number));
    for (const part of missing) expect(await putPart(part.url, partOf(body, upload.partSize, part.number))).toBe(200);
    expect(await partPutsReceived(t) - before).toBe(upload.parts.length);
    const { job } = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } })).importStagedUpload;
    expect(await waitForJob(client, job!.id, 60_000)).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS });
  }, 120_000);

  it('a refused import reads the whole file once: later refusals do not read it again, a part sent again does; then every row is imported', async () => {
    const c = await t.clientFor('retrying');
    const body = Buffer.from(eventsCsv(manyEvents(ROWS, 2_000_000)));
    const upload = (await create(c, body, { sha256: sha256(body) })).stagedUpload!;
    for (const part of upload.parts) expect(await putPart(part.url, partOf(body, upload.partSize, part.number))).toBe(200);
    const attempt = async (input: Record<string, unknown>) => {
      const before = await stagedBytesChecked(t);
      const { job, userErrors } = (await c.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS', ...input } })).importStagedUpload;
      return { job, userErrors, read: await stagedBytesChecked(t) - before };
    };

    const wrongKind = await attempt({ kind: 'USERS' });
    expect(wrongKind.userErrors[0]).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    expect(wrongKind.read).toBe(body.length);
    const sheet = await attempt({ sheet: 'Sheet1' });
    expect(sheet.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['input', 'sheet'] });
    expect(sheet.read).toBe(0);
    const mapping = await attempt({ columnMapping: [{ from: 'no such column', to: 'event_type' }] });
    expect(mapping.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['input', 'columnMapping'] });
    expect(mapping.read).toBe(0);

    // A part sent again may have other bytes: what was read no longer holds.
    expect(await putPart(upload.parts[1].url, partOf(body, upload.partSize, 2))).toBe(200);
    const afterPart = await attempt({ kind: 'USERS' });
    expect(afterPart.userErrors[0]).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    expect(afterPart.read).toBe(body.length);

    const valid = await attempt({});
    expect(valid.userErrors).toEqual([]);
    expect(valid.read).toBe(0);
    expect(valid.job).toMatchObject({ fileSize: body.length, format: 'CSV' });
    expect(await waitForJob(c, valid.job!.id, 60_000)).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS, rowsFailed: 0 });
    const [counted] = await t.app.db.query<{ n: number; lines: number }>(
      'select count(*)::int as n, count(distinct line)::int as lines from events where job_id = $1', [jobUuid(valid.job!.id)]);
    expect(counted).toEqual({ n: ROWS, lines: ROWS });
  }, 120_000);

  it('DUPLICATE_FILE twice reads the staged file once; allowDuplicateFile then imports it', async () => {
    const c = await t.clientFor('duplicate-retry');
    const body = Buffer.from(eventsCsv(manyEvents(2000, 3_000_000)));
    const stage = async () => {
      const upload = (await create(c, body, { filename: 'dup.csv' })).stagedUpload!;
      expect(await putPart(upload.parts[0].url, body)).toBe(200);
      return upload;
    };
    const first = await stage();
    const { job } = (await c.data(ImportStagedUploadDocument, { input: { stagedUploadId: first.id, kind: 'EVENTS' } })).importStagedUpload;
    await waitForJob(c, job!.id, 60_000);

    const again = await stage();
    const before = await stagedBytesChecked(t);
    for (let i = 0; i < 2; i++) {
      const { userErrors } = (await c.data(ImportStagedUploadDocument, { input: { stagedUploadId: again.id, kind: 'EVENTS' } })).importStagedUpload;
      expect(userErrors[0]).toMatchObject({ code: 'DUPLICATE_FILE' });
    }
    expect(await stagedBytesChecked(t) - before).toBe(body.length);
    const allowed = (await c.data(ImportStagedUploadDocument, { input: { stagedUploadId: again.id, kind: 'EVENTS', allowDuplicateFile: true } })).importStagedUpload;
    expect(allowed.userErrors).toEqual([]);
    expect(await waitForJob(c, allowed.job!.id, 60_000)).toMatchObject({ status: 'COMPLETED', rowsImported: 2000, rowsFailed: 0 });
    expect(await stagedBytesChecked(t) - before).toBe(body.length);
  }, 120_000);

  it('a gzipped staged file is decoded at each import, but not again sooner after a refused one than that one took', async () => {
    const c = await t.clientFor('decode-retry');
    const body = gzipSync(eventsCsv(manyEvents(ROWS, 4_000_000)));
    const upload = (await create(c, body, { filename: 'events.csv.gz' })).stagedUpload!;
    for (const part of upload.parts) expect(await putPart(part.url, partOf(body, upload.partSize, part.number))).toBe(200);
    const attempt = async (input: Record<string, unknown>) => {
      const before = { check: await stagedBytesRead(t, 'check'), decode: await stagedBytesRead(t, 'decode') };
      const { job, userErrors } = (await c.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS', ...input } })).importStagedUpload;
      return { job, userErrors, check: await stagedBytesRead(t, 'check') - before.check, decode: await stagedBytesRead(t, 'decode') - before.decode };
    };

    const wrongKind = await attempt({ kind: 'USERS' });
    expect(wrongKind.userErrors[0]).toMatchObject({ code: 'SCHEMA_MISMATCH' });
    expect(wrongKind).toMatchObject({ check: body.length, decode: body.length });
    const soon = await attempt({});
    expect(soon.userErrors[0]).toMatchObject({ code: 'INVALID_INPUT', field: ['input', 'stagedUploadId'], message: expect.stringContaining('import it again after') });
    expect(soon).toMatchObject({ check: 0, decode: 0 });

    const after = new Date(/again after (\S+)$/.exec(soon.userErrors[0].message)![1]).getTime();
    await new Promise((r) => setTimeout(r, Math.max(0, after - Date.now()) + 50));
    const valid = await attempt({});
    expect(valid.userErrors).toEqual([]);
    expect(valid).toMatchObject({ check: 0, decode: body.length });
    expect(await waitForJob(c, valid.job!.id, 60_000)).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS, rowsFailed: 0 });
  }, 120_000);

  it('refuses a tampered or foreign part URL and a part of the wrong size, before storing a byte', async () => {
    const body = file;
    const upload = (await create(client, body)).stagedUpload!;
    const [one, , last] = upload.parts;
    const part = partOf(body, upload.partSize, one.number);
    const tampered = one.url.replace(/sig=([0-9a-f])/, (_m, c: string) => `sig=${c === '0' ? '1' : '0'}`);
    expect(await putPart(tampered, part)).toBe(403);
    expect(await putPart(one.url.replace(/expires=(\d+)/, (_m, e: string) => `expires=${Number(e) + 1}`), part)).toBe(403);
    expect(await putPart(one.url.replace('/parts/1?', '/parts/2?'), part)).toBe(403); // part 1's signature on part 2
    expect(await putPart(one.url, part.subarray(0, part.length - 1))).toBe(400);
    expect(await putPart(one.url, Buffer.concat([part, Buffer.from('x')]))).toBe(400);
    expect(await putPart(last.url, part)).toBe(400); // the last part is shorter than a whole one
    const now = (await client.data(StagedUploadDocument, { id: upload.id })).stagedUpload!;
    expect(now.parts.every((p) => !p.received)).toBe(true);
  }, 60_000);

  it("another tenant's staged upload is NOT_FOUND, for reading and for importing", async () => {
    const upload = (await create(client, file)).stagedUpload!;
    const other = await t.clientFor('someone-else');
    expect((await other.data(StagedUploadDocument, { id: upload.id })).stagedUpload).toBeNull();
    const { userErrors } = (await other.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } })).importStagedUpload;
    expect(userErrors[0]).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a file whose SHA-256 is not the declared one is INVALID_FILE, and nothing is imported', async () => {
    const body = Buffer.from(eventsCsv(manyEvents(1000)));
    const upload = (await create(client, body, { sha256: sha256(Buffer.from('something else')) })).stagedUpload!;
    expect(upload.parts.length).toBe(1);
    expect(await putPart(upload.parts[0].url, body)).toBe(200);
    const { job, userErrors } = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } })).importStagedUpload;
    expect(job).toBeNull();
    expect(userErrors[0]).toMatchObject({ code: 'INVALID_FILE', message: expect.stringContaining('SHA-256') });
    expect((await client.data(StagedUploadDocument, { id: upload.id })).stagedUpload).toBeNull();
  });

  it('refuses at creation a file over the size limit; a header that does not fit the kind at import', async () => {
    const big = await client.data(CreateStagedUploadDocument, { input: { filename: 'big.csv', fileSize: t.app.config.maxFileSize + 1 } });
    expect(big.createStagedUpload.userErrors[0]).toMatchObject({ code: 'FILE_TOO_LARGE', field: ['input', 'fileSize'] });
    const body = Buffer.from('a,b,c\n1,2,3\n');
    const upload = (await create(client, body, { filename: 'wrong.csv' })).stagedUpload!;
    expect(await putPart(upload.parts[0].url, body)).toBe(200);
    const { userErrors } = (await client.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } })).importStagedUpload;
    expect(userErrors[0]).toMatchObject({ code: 'SCHEMA_MISMATCH' });
  });

  it('a tenant has at most 10 staged uploads under way', async () => {
    const busy = await t.clientFor('many-staged');
    const body = Buffer.from('x'.repeat(100));
    for (let i = 0; i < 10; i++) expect((await create(busy, body, { filename: `f${i}.csv` })).userErrors).toEqual([]);
    expect((await create(busy, body, { filename: 'f10.csv' })).userErrors[0]).toMatchObject({ code: 'IMPORT_IN_PROGRESS' });
  });

  it('two imports of the same staged upload at once make one job', async () => {
    const body = Buffer.from(eventsCsv(manyEvents(500, 900_000)));
    const upload = (await create(client, body, { filename: 'twice.csv' })).stagedUpload!;
    expect(await putPart(upload.parts[0].url, body)).toBe(200);
    const both = await Promise.all([1, 2].map(() => client.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } })));
    const jobs = both.map((r) => r.importStagedUpload.job).filter(Boolean);
    expect(jobs).toHaveLength(1);
    expect(both.flatMap((r) => r.importStagedUpload.userErrors)).toEqual([expect.objectContaining({ code: 'INVALID_INPUT' })]);
    await waitForJob(client, jobs[0]!.id, 60_000);
  }, 90_000);

  it("the spool sweep leaves a live staged upload's file, however long it waits between parts", async () => {
    const body = Buffer.from(eventsCsv(manyEvents(100, 950_000)));
    const upload = (await create(client, body, { filename: 'slow.csv' })).stagedUpload!;
    const [row] = await t.app.db.query<{ location: string }>('select location from staged_uploads where id = $1', [stagedUuid(upload.id)]);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(row.location, twoHoursAgo, twoHoursAgo);
    const { keep } = await sweepStagedUploads(t.app.db, folderStaging(t.app.config.spoolDir), t.app.log);
    await sweepSpool(t.app.db, t.app.config.spoolDir, 0, t.app.log, keep);
    expect(await putPart(upload.parts[0].url, body)).toBe(200);
    // Without the staged upload to keep it, the same file, as old, is an orphan the sweep removes.
    await fs.utimes(row.location, twoHoursAgo, twoHoursAgo);
    await sweepSpool(t.app.db, t.app.config.spoolDir, 0, t.app.log);
    await expect(fs.stat(row.location)).rejects.toThrow('ENOENT');
  });

  it('an import under way when the upload expires keeps its file: the sweeps leave it, the job imports every row', async () => {
    const short = await startTestApp({ stagedUploadTtlMs: 2500 });
    let release = () => {};
    try {
      const c = await short.clientFor('expiring-mid-import');
      const body = Buffer.from(eventsCsv(manyEvents(200, 700_000)));
      const upload = (await create(c, body, { filename: 'late.csv' })).stagedUpload!;
      expect(await putPart(upload.parts[0].url, body)).toBe(200);
      // The import stops where its job is made (the tenant's jobs lock, held here), after reading the file.
      const [{ id: tenantId }] = await short.app.db.query<{ id: string }>("select id::text from tenants where name = 'expiring-mid-import'");
      const held = new Promise<void>((resolve) => { release = resolve; });
      let locked = () => {};
      const isLocked = new Promise<void>((resolve) => { locked = resolve; });
      const holder = short.app.db.transaction(async (tx) => {
        await tx.query('select pg_advisory_xact_lock($1, hashtext($2))', [LockIds.TENANT_JOBS, tenantId]);
        locked();
        await held;
      });
      await isLocked;
      const importing = c.data(ImportStagedUploadDocument, { input: { stagedUploadId: upload.id, kind: 'EVENTS' } });
      await new Promise((r) => setTimeout(r, new Date(upload.expiresAt).getTime() - Date.now() + 300));
      const { keep } = await sweepStagedUploads(short.app.db, folderStaging(short.app.config.spoolDir), short.app.log);
      await sweepSpool(short.app.db, short.app.config.spoolDir, 0, short.app.log, keep);
      release();
      await holder;
      const { job, userErrors } = (await importing).importStagedUpload;
      expect(userErrors).toEqual([]);
      expect(await waitForJob(c, job!.id, 60_000)).toMatchObject({ status: 'COMPLETED', rowsImported: 200, rowsFailed: 0 });
    } finally {
      release();
      await short.close();
    }
  });

  it('expires: its URLs are refused, and the sweep removes its file', async () => {
    const short = await startTestApp({ stagedUploadTtlMs: 1500 });
    try {
      const c = await short.clientFor('expiring');
      const body = Buffer.from(eventsCsv(manyEvents(100)));
      const upload = (await create(c, body)).stagedUpload!;
      expect(await spoolFiles(short.dataDir)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await putPart(upload.parts[0].url, body)).toBe(403);
      expect((await c.data(StagedUploadDocument, { id: upload.id })).stagedUpload).toBeNull();
      const { removed } = await sweepStagedUploads(short.app.db, folderStaging(short.app.config.spoolDir), short.app.log);
      expect(removed).toBe(1);
      expect(await spoolFiles(short.dataDir)).toEqual([]);
    } finally {
      await short.close();
    }
  });
});
