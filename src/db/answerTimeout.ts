/**
 * A bound on how long a Postgres connection may keep us waiting for its answer.
 *
 * A database that is away refuses the connection or resets it, and the query fails at once. One
 * that stops answering on a connection that stays open (its host frozen, a network path or
 * firewall that drops packets without a reset) fails nothing: the query, and the request or
 * runner's transaction behind it, wait for ever, for TCP gives up on unacknowledged data only after
 * many minutes, and postgres.js has no timeout of its own for a query. So the socket is watched:
 * while a statement awaits its answer and nothing at all arrives from the database for the bound,
 * the connection's queries fail with an error the service counts as transient (transientErrors.ts)
 * and the socket is destroyed; postgres.js frees its slot and connects again for the next query.
 *
 * "Awaits its answer" follows the protocol: every Query or Sync message we send (and the startup
 * message) is answered by one ReadyForQuery once the server is done with it, and a Flush after a
 * Describe by the statement's description; answers come in the order asked. A connection whose
 * answers all came is idle, however long (a pooled connection nobody uses, the LISTEN connection
 * listening), and is left alone. Any byte from the server (rows, a notice) restarts the wait, so
 * the bound is on silence, not on a statement's whole time. A COPY's data counts as part of its
 * statement: the server says nothing while it arrives.
 */
import type net from 'node:net';

/**
 * Generous for the longest statements the service runs on its pool: a batch's COPY (its data sent
 * and its rows written), a revert's batch, a dry run's lookups. Migrations, which may wait long for
 * another instance's, run on a connection of their own, not watched. And within what clients and
 * proxies wait for an answer.
 */
export const DEFAULT_ANSWER_TIMEOUT_MS = 60_000;

/** The code of the error a connection's queries fail with when its answer does not come. */
export const ANSWER_TIMEOUT_CODE = 'DATABASE_ANSWER_TIMEOUT';

export class DatabaseAnswerTimeoutError extends Error {
  readonly code = ANSWER_TIMEOUT_CODE;
  constructor(timeoutMs: number) {
    super(`the database sent nothing for ${timeoutMs} ms while a statement awaited its answer (DATABASE_ANSWER_TIMEOUT_MS); the connection was closed`);
    this.name = 'DatabaseAnswerTimeoutError';
  }
}

const QUERY = 0x51; // 'Q'
const SYNC = 0x53; // 'S'
const FLUSH = 0x48; // 'H'
const READY_FOR_QUERY = 0x5a; // 'Z'
/**
 * What answers a Flush: after a Describe, the statement's RowDescription or NoData; after a
 * cursor's Execute, its rows, then PortalSuspended or CommandComplete; ErrorResponse if it failed.
 */
const DESCRIBED = 0x54; // 'T'
const NO_DATA = 0x6e; // 'n'
const ERROR = 0x45; // 'E'
const PORTAL_SUSPENDED = 0x73; // 's'
const COMMAND_COMPLETE = 0x43; // 'C'
const FLUSH_ANSWERS = new Set([DESCRIBED, NO_DATA, ERROR, PORTAL_SUSPENDED, COMMAND_COMPLETE]);
const CANCEL_REQUEST_CODE = 80877102;
const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;

/**
 * Follows a stream of protocol messages (type byte, int32 length counting itself, body) across
 * chunks, calling `onType` with each message's type byte. Only the 5-byte headers are read: a
 * message's body, a COPY's data, is skipped, not copied.
 */
function messageTypes(onType: (type: number) => void) {
  let skip = 0; // bytes of the current message's body still to come
  const header = Buffer.alloc(5);
  let headerBytes = 0;
  return (chunk: Uint8Array) => {
    let at = 0;
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at);
        skip -= n;
        at += n;
        continue;
      }
      const n = Math.min(5 - headerBytes, chunk.length - at);
      header.set(chunk.subarray(at, at + n), headerBytes);
      headerBytes += n;
      at += n;
      if (headerBytes < 5) break;
      headerBytes = 0;
      onType(header[0]);
      skip = header.readUInt32BE(1) - 4;
    }
  };
}

/**
 * Watches a plain (not TLS) socket that postgres.js talks to Postgres through: after `timeoutMs`
 * of silence while an answer is awaited, fails its queries with a DatabaseAnswerTimeoutError and
 * destroys it.
 * 0 turns the watch off.
 */
export function boundAnswerWait(socket: net.Socket, timeoutMs: number): void {
  if (!(timeoutMs > 0)) return;
  /** The answers still to come, in order: each ends with the message type given. */
  const awaited: number[] = [];
  let timer: NodeJS.Timeout | null = null;
  const expect = (last: number) => {
    awaited.push(last);
    // Started by the first message awaiting an answer, not restarted by later ones: sending proves
    // nothing about the server, only what it sends back does.
    timer ??= setTimeout(giveUp, timeoutMs);
  };
  // The error is given to postgres.js (its 'error' listener), which fails the connection's queries
  // with it, and the socket is then destroyed without one. Destroyed with the error, postgres.js
  // would see the close as caused by it and fail nothing more; but a query run between the error
  // and the close (the caller of a failed query trying again) is sent on this socket, and with
  // nothing to fail it, it would wait for ever. Closed without an error, postgres.js fails whatever
  // is still waiting with CONNECTION_CLOSED.
  let lastReceivedAt = -Infinity;
  const giveUp = () => {
    // Timers run before the socket's waiting data is read: after the process itself stalled for the
    // bound (a long GC, a starved CPU), the answer may be here already. Looked at again once the
    // data waiting has been read; any byte since restarted the wait (the 'data' handler).
    setImmediate(() => {
      if (!watching || socket.destroyed || awaited.length === 0) return;
      // A byte came within the bound (read since, or just before: the timer's clock and this one
      // differ by a little): the wait goes on for what is left of the bound, on a timer of its own.
      const quietMs = performance.now() - lastReceivedAt;
      if (quietMs < timeoutMs) {
        if (timer) clearTimeout(timer);
        timer = setTimeout(giveUp, timeoutMs - quietMs);
        return;
      }
      const err = new DatabaseAnswerTimeoutError(timeoutMs);
      if (socket.listenerCount('error') === 0) return socket.destroy(err);
      socket.emit('error', err);
      socket.destroy();
    });
  };
  const answered = (type: number) => {
    const last = awaited[0];
    if (type === last || (last === DESCRIBED && FLUSH_ANSWERS.has(type))) awaited.shift();
  };

  let watching = true;
  let started = false;
  const sent = messageTypes((type) => {
    if (type === QUERY || type === SYNC) expect(READY_FOR_QUERY);
    // postgres.js sends Flush after a Describe (to learn a statement's parameter types before it
    // binds them) and after a cursor's Execute: answered with no ReadyForQuery (FLUSH_ANSWERS).
    else if (type === FLUSH) expect(DESCRIBED);
  });
  const received = messageTypes(answered);

  const write = socket.write;
  socket.write = function writeWatched(this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    if (watching && chunk instanceof Uint8Array) {
      if (!started) {
        started = true;
        // The first message has no type byte: the startup message (answered by ReadyForQuery once
        // authenticated), or a request answered otherwise, whose connection is not watched.
        const first = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
        const code = first.length >= 8 ? first.readUInt32BE(4) : 0;
        if (code === CANCEL_REQUEST_CODE || code === SSL_REQUEST_CODE || code === GSSENC_REQUEST_CODE) watching = false;
        else { expect(READY_FOR_QUERY); sent(first.subarray(first.readUInt32BE(0))); }
      } else {
        sent(chunk);
      }
    }
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof socket.write;

  socket.on('data', (chunk: Buffer) => {
    if (!watching) return;
    lastReceivedAt = performance.now();
    timer?.refresh();
    received(chunk);
    if (awaited.length === 0 && timer) { clearTimeout(timer); timer = null; }
  });
  socket.on('close', () => { watching = false; if (timer) clearTimeout(timer); });
}
