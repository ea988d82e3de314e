/** What happens to uploads in the spool folder once their job ends. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UploadImportDocument } from '../src/generated/gql/graphql.js';
import { sweepSpool } from '../src/imports/spool.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { spoolFiles, waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp | undefined;
afterEach(async () => { await t?.close(); t = undefined; });

async function importOne(app: TestApp) {
  const client = await app.clientFor('spool');
  const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 's.csv', content: eventsCsv(manyEvents(20)) });
  return waitForJob(client, body.data!.uploadImport.job!.id);
}

describe('spool housekeeping', () => {
  it('removes a job\'s upload as the job ends (SPOOL_RETENTION_MS=0)', async () => {
    t = await startTestApp();
    expect((await importOne(t)).status).toBe('COMPLETED');
    // The runner removes the file just after the job's COMPLETED commits (the file must outlive
    // every commit a crash could need it for), so a client can see COMPLETED a moment before.
    const dataDir = t.dataDir;
    await expect.poll(() => spoolFiles(dataDir), { timeout: 5000 }).toEqual([]);
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
