/**
 * The hash thread failing on its own (not the client's file, not a full spool): here the spool
 * file is removed while the upload is written, so the thread cannot open it to read it back. That
 * is the server's fault and no retry mends it: 500 INTERNAL, with no retry hint, no job, and no
 * file left behind.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/apiKeys.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobCount, spoolFiles } from './support/jobs.js';
import { BOUNDARY, closing, uploadHead } from './support/multipart.js';
import { startTestApp, type TestApp } from './support/testApp.js';

describe('an upload whose hash thread fails', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp({ workerConcurrency: 0 }); });
  afterAll(async () => { await t?.close(); });

  it('is answered 500 INTERNAL, not 503 with a retry hint, and leaves no job and no file', async () => {
    const client = await t.clientFor('hash-fails');
    const key = await createKey(t.app.db, 'hash-fails');
    const [header, ...rows] = eventsCsv(manyEvents(50)).split('\n');
    const answer = new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }>((resolve, reject) => {
      const req = http.request(t.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'transfer-encoding': 'chunked' },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      });
      req.on('error', reject);
      req.write(`${uploadHead()}${header}\n`);
      void (async () => {
        // The file exists once its first bytes arrive; the thread opens it only at the digest.
        let files: string[] = [];
        for (let i = 0; i < 100 && files.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
          files = await spoolFiles(t.dataDir);
        }
        for (const file of files) await fs.rm(path.join(t.dataDir, 'spool', file));
        req.end(`${rows.join('\n')}\r\n${closing()}`);
      })().catch(reject);
    });
    const { status, headers, body } = await answer;
    expect(status, JSON.stringify(body)).toBe(500);
    expect(headers['retry-after']).toBeUndefined();
    expect(body.errors?.[0]?.extensions?.code, JSON.stringify(body)).toBe('INTERNAL');
    expect(await jobCount(client)).toBe(0);
    expect(await spoolFiles(t.dataDir)).toEqual([]);
  });
});
