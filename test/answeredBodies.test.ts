/**
 * A request answered before its body has arrived (refused without a key, over the JSON limit, a
 * route that reads no body) holds its connection for at most a few seconds more, on every route,
 * however slowly the client goes on sending, or if it sends nothing: otherwise anyone, without a
 * key, could hold any number of connections for ever by declaring a large Content-Length.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let key: string;

beforeAll(async () => {
  t = await startTestApp();
  key = (await t.clientFor('dripper')).key!;
});
afterAll(() => t?.close());

/** After its answer, the rest of the body may take this long before the connection is closed (uploadPlugin's, now every route's). */
const LINGER_MS = 10_000;

interface Held { status: string; closedAfterMs: number | null }

/**
 * Sends `head` (headers declaring a body far larger than what follows), then a byte every 200 ms
 * (or nothing, when `silent`), until the server closes the connection or `forMs` has passed.
 */
function holdOpen(head: string, forMs: number, silent = false): Promise<Held> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(t.url).port), '127.0.0.1');
    let answer = '';
    let answeredAt = 0;
    const drip = setInterval(() => { if (!silent && socket.writable) socket.write(' '); }, 200);
    const done = (closedAfterMs: number | null) => {
      clearInterval(drip);
      clearTimeout(deadline);
      socket.destroy();
      resolve({ status: answer.split('\r\n')[0], closedAfterMs });
    };
    const deadline = setTimeout(() => done(null), forMs);
    socket.on('data', (chunk) => { if (!answeredAt) answeredAt = Date.now(); answer += chunk.toString('latin1'); });
    socket.on('close', () => done(answeredAt ? Date.now() - answeredAt : -1));
    socket.on('error', (err) => { if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET' && (err as NodeJS.ErrnoException).code !== 'EPIPE') reject(err); });
    socket.write(head);
  });
}

const request = (line: string, headers: Record<string, string>) =>
  `${line}\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: 999999999\r\n\r\n`;

describe('a request answered before its body ended', () => {
  it('loses its connection a few seconds after its answer on every route, dripping or silent', async () => {
    const auth = { authorization: `Bearer ${key}` };
    const cases: [string, string, boolean][] = [
      ['no key', request('POST /graphql HTTP/1.1', { 'content-type': 'application/json' }), false],
      ['no key, silent', request('POST /graphql HTTP/1.1', { 'content-type': 'application/json' }), true],
      ['JSON over the limit', request('POST /graphql HTTP/1.1', { ...auth, 'content-type': 'application/json' }), false],
      ['unsupported media type', request('POST /graphql HTTP/1.1', { ...auth, 'content-type': 'text/plain' }), false],
      ['report of no job', request('GET /jobs/abc/errors.csv HTTP/1.1', auth), false],
      ['console file', request('GET /console/app.js HTTP/1.1', {}), false],
      ['health check', request('GET /healthz HTTP/1.1', {}), true],
    ];
    const held = await Promise.all(cases.map(([, head, silent]) => holdOpen(head, LINGER_MS + 5000, silent)));
    cases.forEach(([name], i) => {
      expect(held[i].status, name).toMatch(/^HTTP\/1\.1 [2-4]\d\d /);
      expect(held[i].closedAfterMs, `${name}: still open ${LINGER_MS + 5000} ms after its answer`).not.toBeNull();
      expect(held[i].closedAfterMs!, name).toBeLessThan(LINGER_MS + 2000);
    });
  }, 30_000);

  it('keeps the connection of a client whose body did end, for its next request', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const one = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const answers = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(t.url).port), '127.0.0.1', () => socket.write(one));
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
        const count = text.split('HTTP/1.1 200').length - 1;
        if (count === 1 && !text.includes('second')) { text += 'second'; setTimeout(() => socket.write(one), 300); }
        if (count === 2) { socket.destroy(); resolve(text); }
      });
      socket.on('error', reject);
    });
    expect(answers.split('HTTP/1.1 200')).toHaveLength(3);
  });
});
