/** What happens to uploads in the spool folder once their job ends. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UploadImportDocument } from '../src/generated/gql/graphql.js';
import { insertReservation } from '../src/jobs/uploadReservations.js';
import { sweepSpool } from '../src/spool/spool.js';
import { chooseSpare, SPARE_IDLE_MS } from '../src/spool/spoolSpares.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobUuid, spareFiles, spoolFiles, waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp | undefined;
afterEach(async () => { await t?.close(); t = undefined; });

async function importOne(app: TestApp) {
  const client = await app.clientFor('spool');
  const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 's.csv', content: eventsCsv(manyEvents(20)) });
  return waitForJob(client, body.data!.uploadImport.job!.id);
}

describe('spool housekeeping', () => {
  it('removes a job\'s upload as the job ends (SPOOL_RETENTION_MS=0, SPOOL_SPARE_FILES=0)', async () => {
    t = await startTestApp({ spoolSpareFiles: 0 });
    expect((await importOne(t)).status).toBe('COMPLETED');
    // The runner removes the file just after the job's COMPLETED commits (the file must outlive
    // every commit a crash could need it for), so a client can see COMPLETED a moment before.
    const dataDir = t.dataDir;
    await expect.poll(() => spoolFiles(dataDir), { timeout: 5000 }).toEqual([]);
    expect(await spareFiles(dataDir)).toEqual([]);
  });

  it('keeps a completed upload as a spare that a later upload writes over, and that job reads its own bytes only', async () => {
    t = await startTestApp({ spoolSpareFiles: 1 });
    const dataDir = t.dataDir;
    const client = await t.clientFor('spool');
    const upload = async (content: string) => {
      const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 's.csv', content });
      return waitForJob(client, body.data!.uploadImport.job!.id);
    };
    const large = eventsCsv(manyEvents(2000));
    expect((await upload(large)).status).toBe('COMPLETED');
    await expect.poll(() => spareFiles(dataDir), { timeout: 5000 }).toHaveLength(1);
    const [spare] = await spareFiles(dataDir);
    expect((await fs.stat(path.join(dataDir, 'spool', spare))).size).toBe(Buffer.byteLength(large));

    // The only spare, so the small upload writes over it (the folder has no room to keep both).
    const small = eventsCsv(manyEvents(3, 5000));
    const job = await upload(small);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 3, rowsFailed: 0 });
    // Past its own end the spare held the large upload's rows: none of them is read as this job's.
    const rows = await t.app.db.query<{ user_id: string }>('select user_id from events where job_id = $1 order by line', [jobUuid(job.id)]);
    expect(rows.map((r) => r.user_id)).toEqual(['User-5000', 'User-5001', 'User-5002']);
    const [stored] = await t.app.db.query<{ file_sha256: string }>('select file_sha256 from import_jobs where id = $1', [jobUuid(job.id)]);
    expect(stored.file_sha256).toBe(createHash('sha256').update(small).digest('hex'));
    // The spare was taken (no other is left) and the small job's file kept in its place.
    await expect.poll(async () => {
      const spares = await spareFiles(dataDir);
      return spares.length === 1 && spares[0] !== spare ? (await fs.stat(path.join(dataDir, 'spool', spares[0]))).size : null;
    }, { timeout: 5000 }).toBe(Buffer.byteLength(small));
  });

  it('the sweep removes a spare unused for SPARE_IDLE_MS and keeps a recent one', async () => {
    t = await startTestApp();
    const spoolDir = path.join(t.dataDir, 'spool');
    await fs.mkdir(spoolDir, { recursive: true });
    const [old, recent] = ['spare-old.upload', 'spare-recent.upload'].map((name) => path.join(spoolDir, name));
    await fs.writeFile(old, 'an earlier upload');
    await fs.writeFile(recent, 'another');
    const past = new Date(Date.now() - SPARE_IDLE_MS - 60_000);
    await fs.utimes(old, past, past);
    expect(await sweepSpool(t.app.db, spoolDir, 0, t.app.log)).toBe(1);
    expect(await spareFiles(t.dataDir)).toEqual(['spare-recent.upload']);
  });

  it('keeps it for SPOOL_RETENTION_MS, and the sweep removes it afterwards and orphans after an hour', async () => {
    t = await startTestApp({ spoolRetentionMs: 60_000 });
    expect((await importOne(t)).status).toBe('COMPLETED');
    const [kept] = await spoolFiles(t.dataDir);
    expect(kept).toBeDefined();
    const spoolDir = path.join(t.dataDir, 'spool');
    const orphan = path.join(spoolDir, 'orphan.upload');
    await fs.writeFile(orphan, 'half an upload');

    // Within the retention period, and a fresh orphan: both stay.
    expect(await sweepSpool(t.app.db, spoolDir, 60_000, t.app.log)).toBe(0);
    // Past it (retention 0 here), the job's file goes; an orphan untouched for two hours too.
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(orphan, twoHoursAgo, twoHoursAgo);
    expect(await sweepSpool(t.app.db, spoolDir, 0, t.app.log)).toBe(2);
    expect(await spoolFiles(t.dataDir)).toEqual([]);
  });
});

describe('scratch files (a workbook\'s sheet waiting for its shared strings)', () => {
  it('the sweep leaves one whose upload is still arriving, however old, and a recent one; removes one a dead process left', async () => {
    t = await startTestApp();
    await t.clientFor('spool'); // the tenant the live upload's reservation belongs to
    const spoolDir = path.join(t.dataDir, 'spool');
    await fs.mkdir(spoolDir, { recursive: true });
    const [live, recent, dead] = ['live', 'recent', 'dead'].map((name) => path.join(spoolDir, `${name}.upload.sheet1.scratch`));
    for (const file of [live, recent, dead]) await fs.writeFile(file, '<worksheet>');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    await fs.utimes(live, twoHoursAgo, twoHoursAgo);
    await fs.utimes(dead, twoHoursAgo, twoHoursAgo);
    // The live one's upload is arriving (in this instance or another): its reservation is renewed.
    const [tenant] = await t.app.db.query<{ id: string }>("select id from tenants where name = 'spool'");
    await t.app.db.transaction((tx) => insertReservation(tx, { tenantId: tenant.id, spoolPath: path.join(spoolDir, 'live.upload'), bytes: 1 << 20, ttlMs: 30_000 }));

    expect(await sweepSpool(t.app.db, spoolDir, 0, t.app.log)).toBe(1);
    expect((await fs.readdir(spoolDir)).sort()).toEqual(['live.upload.sheet1.scratch', 'recent.upload.sheet1.scratch']);
  });
});

describe('which spare an upload writes over', () => {
  const spares = [{ name: 'a', size: 300 }, { name: 'b', size: 1000 }];
  const choose = (expectedBytes: number | null, maxSpares = 2, of = spares) => chooseSpare(of, { maxSpares, expectedBytes })?.name ?? null;

  it('none when there is none, or spares are off', () => {
    expect(choose(100, 2, [])).toBeNull();
    expect(choose(100, 0)).toBeNull();
  });
  it('the smallest that holds the upload', () => {
    expect(choose(250)).toBe('a');
    expect(choose(900)).toBe('b');
  });
  it('the largest when none holds it and the folder is full (it grows), or when the size is unknown', () => {
    expect(choose(5000)).toBe('b');
    expect(choose(null)).toBe('b');
    expect(choose(null, 3)).toBe('b');
  });
  it('a new file when none holds it and there is room for one more spare: the smaller ones stay', () => {
    expect(choose(5000, 3)).toBeNull();
    expect(choose(500, 2, [spares[0]])).toBeNull();
  });
  it('a much larger one is left for a larger upload while there is room to keep one more', () => {
    expect(choose(100, 3)).toBeNull();
    expect(choose(100, 2)).toBe('a');
  });
});
