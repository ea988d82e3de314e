/**
 * What unauthenticated WebSocket traffic costs the server, measured on the real server run as a
 * process of its own (its peak RSS from /proc): 20 sockets each start a 40 MiB connection_init
 * with a wrong key. Each is closed with 1009 as soon as its frame's header shows the size; the
 * server's peak memory stays near where it was, and /healthz answers throughout.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RssMonitor } from '../bench/serverProcess.js';
import { createTestDatabase, databaseEnv, requirePostgres, sessionUrl, type TestDatabase } from './support/database.js';
import { createKeyIn, openSql, type Sql } from './support/importIntegrity.js';
import { startServerChild, type ServerChild } from './support/serverProcess.js';

const enabled = requirePostgres('WebSocket memory test (the server as a process of its own)');
const SOCKETS = 20;
const INIT_BYTES = 40 * 1024 * 1024;
/** Well under one socket's oversized message; the server held all 20 of them before the fix. */
const ALLOWED_GROWTH_MB = 24;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

let db: TestDatabase;
let dataDir: string;
let server: ServerChild;
let sql: Sql;
let key: string;

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-ws-memory-'));
  server = await startServerChild({ label: 'ws-memory', env: { ...databaseEnv(db), DATA_DIR: dataDir, WORKER_CONCURRENCY: '0', LOG_LEVEL: 'warn' } });
  sql = openSql(sessionUrl(db));
  key = await createKeyIn(sql, 'ws-memory');
});
afterAll(async () => {
  await server?.stop();
  await sql?.end();
  await db?.drop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

/**
 * Opens a WebSocket by hand and sends the header of a `bytes`-long text frame, a connection_init
 * with a wrong key, then its payload from one reused buffer, for as long as the server reads it.
 * Resolves with the close code the server sent (null: none).
 */
function oversizedInit(port: number, bytes: number): Promise<{ closeCode: number | null }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let upgraded = false;
    let closeCode: number | null = null;
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ closeCode });
    };
    socket.on('error', finish);
    socket.on('close', finish);
    socket.setTimeout(20_000, finish);
    socket.on('connect', () => socket.write([
      'GET /graphql HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: graphql-transport-ws', '', '',
    ].join('\r\n')));
    const pump = () => {
      while (!done && sent < bytes) {
        const n = Math.min(CHUNK.length, bytes - sent);
        sent += n;
        if (!socket.write(CHUNK.subarray(0, n))) { socket.once('drain', pump); return; }
      }
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (!received.subarray(0, end).toString().startsWith('HTTP/1.1 101')) { finish(); return; }
        upgraded = true;
        received = received.subarray(end + 4);
        // FIN + text frame; masked (as a client must) with a zero key, so the payload goes as it is.
        const header = Buffer.alloc(14);
        header[0] = 0x81;
        header[1] = 0x80 | 127;
        header.writeBigUInt64BE(BigInt(bytes), 2);
        const start = Buffer.from('{"type":"connection_init","payload":{"authorization":"Bearer bik_wrong","padding":"');
        socket.write(Buffer.concat([header, start]));
        sent = start.length;
        pump();
      }
      // A close frame: 0x88, its length, then the code.
      if (received.length >= 4 && received[0] === 0x88) {
        closeCode = received.readUInt16BE(2);
        finish();
      }
    });
  });
}

it.runIf(enabled)('keeps the server within a few MiB of its memory, and /healthz responsive, while 20 unauthenticated sockets send 40 MiB connection_inits', async () => {
  const health = `http://127.0.0.1:${server.port}/healthz`;
  // Warm up what a first request and a first WebSocket load, so the baseline includes it.
  for (let i = 0; i < 3; i++) expect((await fetch(health)).status).toBe(200);
  await oversizedInit(server.port, 16 * 1024);

  const rss = new RssMonitor(server.pid, 20);
  await rss.beginPhase();
  const baselineMb = await rss.currentMb();
  rss.start();

  let attacking = true;
  let slowestHealthMs = 0;
  const probing = (async () => {
    while (attacking) {
      const started = performance.now();
      expect((await fetch(health, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
      slowestHealthMs = Math.max(slowestHealthMs, performance.now() - started);
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  const outcomes = await Promise.all(Array.from({ length: SOCKETS }, () => oversizedInit(server.port, INIT_BYTES)));
  // Give a late allocation time to show in the samples.
  await new Promise((r) => setTimeout(r, 300));
  attacking = false;
  await probing;
  rss.stop();
  const peakMb = await rss.endPhase();

  expect(peakMb - baselineMb, `baseline ${baselineMb.toFixed(1)} MiB, peak ${peakMb.toFixed(1)} MiB (${rss.method})`).toBeLessThan(ALLOWED_GROWTH_MB);
  expect(slowestHealthMs).toBeLessThan(500);
  expect(outcomes.map((o) => o.closeCode)).toEqual(Array(SOCKETS).fill(1009));
  expect(server.exitInfo()).toBeNull();
});

/** A masked client text frame (zero mask key, so the payload goes as it is). */
function clientTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = payload.length < 126 ? Buffer.from([0x81, 0x80 | payload.length]) : Buffer.from([0x81, 0x80 | 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([header, Buffer.alloc(4), payload]);
}

/**
 * An authenticated socket that asks for answers without reading them: after its connection_ack
 * it stops reading and sends graphql-ws pings (each answered by a pong carrying the same payload)
 * for `forMs`, as fast as the server takes them. Resolves with how many bytes of pings it sent.
 */
function pingWithoutReading(port: number, forMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const ping = clientTextFrame(JSON.stringify({ type: 'ping', payload: { padding: 'p'.repeat(4000) } }));
    let received = '';
    let sent = 0;
    let stopAt = 0;
    let done = false;
    const finish = () => { if (done) return; done = true; socket.destroy(); resolve(sent); };
    socket.on('error', (err) => (stopAt ? finish() : reject(err)));
    socket.on('connect', () => socket.write([
      'GET /graphql HTTP/1.1', `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: graphql-transport-ws', '', '',
    ].join('\r\n')));
    const pump = () => {
      while (!done && Date.now() < stopAt) {
        sent += ping.length;
        if (!socket.write(ping)) { socket.once('drain', pump); return; }
      }
      finish();
    };
    const onData = (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (received.startsWith('HTTP/1.1 101') && received.includes('\r\n\r\n') && !received.includes('sentInit')) {
        received += 'sentInit';
        socket.write(clientTextFrame(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
      }
      if (received.includes('connection_ack')) {
        socket.off('data', onData);
        socket.pause(); // reads nothing more
        stopAt = Date.now() + forMs;
        // A server that stops reading leaves a write waiting for 'drain': the time is up all the same.
        setTimeout(finish, forMs);
        pump();
      }
    };
    socket.on('data', onData);
  });
}

it.runIf(enabled)('keeps the server within bounded memory while authenticated sockets send pings and never read the pongs', async () => {
  const rss = new RssMonitor(server.pid, 20);
  await rss.beginPhase();
  const baselineMb = await rss.currentMb();
  rss.start();
  const sent = await Promise.all(Array.from({ length: 4 }, () => pingWithoutReading(server.port, 3000)));
  await new Promise((r) => setTimeout(r, 300));
  rss.stop();
  const peakMb = await rss.endPhase();
  expect(peakMb - baselineMb, `sent ${sent.map((n) => (n / 2 ** 20).toFixed(0)).join(', ')} MiB; baseline ${baselineMb.toFixed(1)} MiB, peak ${peakMb.toFixed(1)} MiB`).toBeLessThan(ALLOWED_GROWTH_MB * 2);
  const started = performance.now();
  expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
  expect(performance.now() - started).toBeLessThan(500);
  expect(server.exitInfo()).toBeNull();
}, 30_000);
