/**
 * MAX_CONNECTIONS, over real sockets: past the cap, a new connection is closed as it arrives, so a
 * flood of sockets that send nothing cannot use up the server's file descriptors; once the idle
 * ones go, the server answers as before.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { rawRequest } from './support/rawHttp.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const CAP = 5;

function connect(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => resolve(socket));
    socket.on('error', reject);
  });
}

/** Whether the server closes `socket` within `ms` (an idle socket is otherwise kept for headersTimeout). */
function closedWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (socket.destroyed || socket.readableEnded) { resolve(true); return; }
    const timer = setTimeout(() => resolve(false), ms);
    socket.on('error', () => {});
    socket.once('close', () => { clearTimeout(timer); resolve(true); });
    socket.resume(); // an end from the server is seen only by a reader
  });
}

describe(`connections over MAX_CONNECTIONS (${CAP})`, () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp({ workerConcurrency: 0, maxConnections: CAP }); });
  afterAll(async () => { await t?.close(); });

  it('closes the connections past the cap as they arrive, keeps those within it, and answers again once they go', async () => {
    const held: net.Socket[] = [];
    for (let i = 0; i < CAP; i++) held.push(await connect(t.url));
    // The server takes a connection in only after the client sees it connected: give it time to count these.
    await new Promise((r) => setTimeout(r, 300));
    const extra = await Promise.all(Array.from({ length: 3 }, () => connect(t.url)));
    expect(await Promise.all(extra.map((s) => closedWithin(s, 2000)))).toEqual([true, true, true]);
    expect(await Promise.all(held.map((s) => closedWithin(s, 200)))).toEqual(held.map(() => false));

    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const health = await rawRequest(t.url, '/healthz');
    expect(health.status).toBe(200);
  });

  it('refuses a MAX_CONNECTIONS below 1 (Node would read 0 as no cap at all)', () => {
    expect(() => loadConfig({ MAX_CONNECTIONS: '0' })).toThrow(/MAX_CONNECTIONS must be at least 1/);
    expect(loadConfig({}).maxConnections).toBe(4096);
  });
});
