/** The JavaScript client in src/client (which the CLI and the benchmark use), against the real server. */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
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

  it('fails at once, with the reason, when the file cannot be read', async () => {
    await expect(client.upload(t.dataDir, { kind: 'EVENTS' })).rejects.toThrow(/EISDIR/);
  });

  // A proxy, say, that answers a refusal at once and then reads no more of the request.
  it('takes an answer that comes before the file is sent, and stops sending', async () => {
    const answer = JSON.stringify({ data: { uploadImport: { job: null, userErrors: [{ code: 'IMPORT_IN_PROGRESS', message: 'busy', field: null }] } } });
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => {
      sockets.push(socket);
      socket.once('data', () => {
        socket.pause(); // reads nothing more, and keeps the connection open
        // By then the client has filled the connection and waits for room to send more.
        setTimeout(() => socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(answer)}\r\n\r\n${answer}`), 500);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const file = path.join(t.dataDir, 'big.bin');
      await fs.writeFile(file, Buffer.alloc(64 * 1024 * 1024, 'a'));
      const early = new BulkImportClient({ url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/graphql`, key: 'k' });
      const result = await early.upload(file, { kind: 'EVENTS' });
      expect(result.userErrors[0]).toMatchObject({ code: 'IMPORT_IN_PROGRESS' });
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  }, 15_000);

  it('answers with the server\'s user errors when the upload is refused', async () => {
    const file = path.join(t.dataDir, 'wrong.csv');
    await fs.writeFile(file, 'name,colour\nrose,red\n');
    const other = new BulkImportClient({ url: t.url, key: (await t.clientFor('client-refused')).key! });
    const { job, userErrors } = await other.upload(file, { kind: 'EVENTS' });
    expect(job).toBeNull();
    expect(userErrors[0]).toMatchObject({ code: 'SCHEMA_MISMATCH' });
  });
});
