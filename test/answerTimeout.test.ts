/**
 * The silent-database bound (src/db/answerTimeout.ts) follows the protocol's messages on a real
 * TCP connection, with a peer that answers exactly what each test writes: the message sequences
 * postgres.js sends (a simple Query, a describe-first statement, a cursor's Execute + Flush, a COPY
 * whose data spans many writes) end with the connection idle and left alone, however long; a
 * statement left unanswered past the bound fails the connection. test/databaseSilence.test.ts has
 * the same bound against the real PostgreSQL behind a proxy that freezes.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { boundAnswerWait, DatabaseAnswerTimeoutError } from '../src/db/answerTimeout.js';

const BOUND_MS = 200;
/** Well past the bound: a connection still open after it was left alone. */
const WAIT_MS = 3 * BOUND_MS;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A protocol message: type byte, int32 length (counting itself), body. */
function message(type: string, body: Buffer | string = ''): Buffer {
  const content = typeof body === 'string' ? Buffer.from(body) : body;
  const out = Buffer.alloc(5 + content.length);
  out[0] = type.charCodeAt(0);
  out.writeUInt32BE(4 + content.length, 1);
  content.copy(out, 5);
  return out;
}

/** The startup message (protocol 3.0), which has no type byte. */
function startup(): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt32BE(8, 0);
  out.writeUInt32BE(196608, 4);
  return out;
}

const READY = message('Z', 'I');
const closers: (() => void)[] = [];
afterEach(() => { for (const close of closers.splice(0)) close(); });

/** A watched client socket and the peer's end of the same connection, the client started up. */
async function connected(): Promise<{ client: net.Socket; peer: net.Socket; errors: Error[] }> {
  const server = net.createServer();
  const peerReady = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  boundAnswerWait(client, BOUND_MS);
  const errors: Error[] = [];
  client.on('error', (err) => errors.push(err));
  client.on('data', () => {}); // as postgres.js reads it
  const peer = await peerReady;
  closers.push(() => { client.destroy(); peer.destroy(); server.close(); });
  client.write(startup());
  peer.write(message('R', Buffer.alloc(4))); // AuthenticationOk
  peer.write(READY);
  await sleep(20);
  return { client, peer, errors };
}

describe('the bound on a silent database connection', () => {
  it('fails a connection whose statement gets no answer within the bound', async () => {
    const { client, errors } = await connected();
    client.write(message('Q', 'select 1\0'));
    await sleep(WAIT_MS);
    expect(errors[0]).toBeInstanceOf(DatabaseAnswerTimeoutError);
    expect(client.destroyed).toBe(true);
  });

  it('leaves alone a connection whose simple query was answered', async () => {
    const { client, peer, errors } = await connected();
    client.write(message('Q', 'select 1\0'));
    peer.write(Buffer.concat([message('T', Buffer.alloc(2)), message('D', Buffer.alloc(2)), message('C', 'SELECT 1\0'), READY]));
    await sleep(WAIT_MS);
    expect(errors).toEqual([]);
    expect(client.destroyed).toBe(false);
  });

  it('leaves alone a describe-first statement (Describe + Flush, then Bind, Execute, Sync), answered', async () => {
    const { client, peer, errors } = await connected();
    client.write(Buffer.concat([message('P', '\0select $1\0\0\0'), message('D', 'S\0'), message('H')]));
    peer.write(Buffer.concat([message('1'), message('t', Buffer.alloc(2)), message('T', Buffer.alloc(2))]));
    client.write(Buffer.concat([message('B', Buffer.alloc(8)), message('E', Buffer.alloc(5)), message('S')]));
    peer.write(Buffer.concat([message('2'), message('D', Buffer.alloc(2)), message('C', 'SELECT 1\0'), READY]));
    await sleep(WAIT_MS);
    expect(errors).toEqual([]);
    expect(client.destroyed).toBe(false);
  });

  it('leaves alone a cursor whose Execute + Flush was answered by PortalSuspended, while its reader takes its time', async () => {
    const { client, peer, errors } = await connected();
    client.write(Buffer.concat([message('P', '\0select 1\0\0\0'), message('B', Buffer.alloc(8)), message('E', Buffer.alloc(5)), message('H')]));
    peer.write(Buffer.concat([message('1'), message('2'), message('D', Buffer.alloc(2)), message('s')]));
    await sleep(WAIT_MS);
    expect(errors).toEqual([]);
    expect(client.destroyed).toBe(false);
  });

  it('follows a COPY whose data spans many writes and messages, then still bounds the next statement', async () => {
    const { client, peer, errors } = await connected();
    client.write(message('Q', 'copy t from stdin\0'));
    peer.write(message('G', Buffer.alloc(3)));
    const data = message('d', Buffer.alloc(300_000, 7));
    for (let at = 0; at < data.length; at += 65_536) client.write(data.subarray(at, at + 65_536)); // a message cut across writes
    client.write(Buffer.concat([message('d', Buffer.alloc(10)), message('c')]));
    peer.write(Buffer.concat([message('C', 'COPY 1\0'), READY]));
    await sleep(WAIT_MS);
    expect(errors).toEqual([]);
    expect(client.destroyed).toBe(false);

    client.write(message('Q', 'select 1\0'));
    await sleep(WAIT_MS);
    expect(errors[0]).toBeInstanceOf(DatabaseAnswerTimeoutError);
  });
});
