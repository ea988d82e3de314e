/**
 * BulkImportClient.uploadStaged behind PUBLIC_URL (part URLs are built from it): a proxy there
 * breaks the first attempt of every part mid-body; the client retries each, reports progress over
 * bytes up to the file's size, and the import has every row.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkImportClient } from '../src/client/bulkImportClient.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

describe('uploadStaged, through a link that breaks every part once', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  let proxy: http.Server;
  const attempts = new Map<string, number>();

  beforeAll(async () => {
    proxy = http.createServer((req, res) => {
      const part = /\/parts\/(\d+)/.exec(req.url ?? '')?.[1];
      const n = (attempts.get(part ?? '') ?? 0) + 1;
      if (part) attempts.set(part, n);
      const target = new URL(t.url);
      const upstream = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      if (part && n === 1) {
        // Half a megabyte through, then the link drops (both sides).
        let passed = 0;
        req.on('data', (chunk: Buffer) => {
          passed += chunk.length;
          upstream.write(chunk);
          if (passed > 512 * 1024) { upstream.destroy(); req.socket.destroy(); }
        });
      } else {
        req.pipe(upstream);
      }
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    t = await startTestApp({ publicUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` });
    client = await t.clientFor('client-staged');
  }, 60_000);
  afterAll(async () => {
    proxy?.close();
    await t?.close();
  });

  it('retries each broken part and imports every row', async () => {
    const file = path.join(t.dataDir, 'events.csv');
    await fs.writeFile(file, eventsCsv(manyEvents(100_000)));
    const size = (await fs.stat(file)).size;
    const progress: number[] = [];
    const api = new BulkImportClient({ url: t.url, key: client.key! });
    const { job, userErrors } = await api.uploadStaged(file, { kind: 'EVENTS' }, { parallel: 2, onSent: (sent) => progress.push(sent) });
    expect(userErrors).toEqual([]);
    const parts = Math.ceil(size / (8 << 20));
    expect([...attempts.values()]).toEqual(Array(parts).fill(2));
    expect(progress.at(-1)).toBe(size);
    expect(Math.max(...progress)).toBe(size);
    expect(await waitForJob(client, job!.id, 90_000)).toMatchObject({ status: 'COMPLETED', rowsImported: 100_000 });
  }, 120_000);
});
