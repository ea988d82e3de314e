/** The JavaScript client in src/client (which the CLI and the benchmark use), against the real server. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkImportClient } from '../src/client/bulkImportClient.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobUuid } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: BulkImportClient;

beforeAll(async () => {
  t = await startTestApp();
  client = new BulkImportClient({ url: t.url, key: (await t.clientFor('client')).key! });
});
afterAll(() => t?.close());

describe('BulkImportClient.upload', () => {
  // The client sends the file through a few buffers it reads over in turn (1 MiB each): a buffer
  // read over before the socket had taken it would change the bytes the server receives.
  it('sends a file many times its send buffers byte for byte, and reports every byte sent', async () => {
    const content = eventsCsv(manyEvents(50_000));
    expect(content.length).toBeGreaterThan(10 * 1024 * 1024);
    const file = path.join(t.dataDir, 'large.csv');
    await fs.writeFile(file, content);
    const reported: number[] = [];
    const { job, userErrors } = await client.upload(file, { kind: 'EVENTS' }, (sent, total) => {
      expect(total).toBe(content.length);
      reported.push(sent);
    });
    expect(userErrors).toEqual([]);
    expect(reported.at(-1)).toBe(content.length);
    expect(reported).toEqual([...reported].sort((a, b) => a - b));

    const [stored] = await t.app.db.query<{ file_size: string; file_sha256: string }>(
      'select file_size, file_sha256 from import_jobs where id = $1', [jobUuid(job!.id)]);
    expect(Number(stored.file_size)).toBe(content.length);
    expect(stored.file_sha256).toBe(createHash('sha256').update(content).digest('hex'));
    expect(await client.follow(job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 50_000, rowsFailed: 0 });
  });

  it('answers with the server\'s user errors when the upload is refused', async () => {
    const file = path.join(t.dataDir, 'wrong.csv');
    await fs.writeFile(file, 'name,colour\nrose,red\n');
    const other = new BulkImportClient({ url: t.url, key: (await t.clientFor('client-refused')).key! });
    const { job, userErrors } = await other.upload(file, { kind: 'EVENTS' });
    expect(job).toBeNull();
    expect(userErrors[0]).toMatchObject({ code: 'SCHEMA_MISMATCH' });
  });
});
