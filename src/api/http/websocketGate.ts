/**
 * Which WebSockets we take on, and how much each may send us.
 *
 * Until its connection_init has been checked a socket belongs to nobody, so it may cost us only a
 * little: its messages may be at most PRE_AUTH_MESSAGE_BYTES (room for a key), at most
 * MAX_PENDING_WEBSOCKETS such sockets wait at once (more are refused with 503 before the
 * upgrade), and one still unauthenticated at `pendingDeadlineMs` is dropped whatever state its
 * closing handshake is in. Once authenticated its messages may be as large as a JSON request body
 * (MAX_JSON_BODY_BYTES). ws refuses a message over the socket's bound as it reads the frame's
 * header: it closes the socket with 1009 and drops the rest unread into memory.
 */
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** A connection_init carries a key and little else. */
export const PRE_AUTH_MESSAGE_BYTES = 8 * 1024;
/** How long the close frame of an unauthenticated socket that broke the protocol has to reach its client. */
const PROTOCOL_ERROR_GRACE_MS = 1000;

export interface WebSocketGateOptions {
  path: string;
  maxPendingSockets: number;
  pendingDeadlineMs: number;
  /** The bound on one message once the socket is authenticated. */
  maxMessageBytes: number;
}

export interface WebSocketGate {
  /** Upgraded sockets arrive as its 'connection' events. */
  wss: WebSocketServer;
  /** The socket's key was good: it no longer counts as pending, and may send messages up to maxMessageBytes. */
  admit(socket: WebSocket): void;
  close(): Promise<void>;
}

/**
 * ws takes one maxPayload per server and gives each socket's frame reader a copy when it upgrades;
 * the reader compares every frame's length against that copy, so raising it takes effect from the
 * next frame. ws has no public setter: this checks the field is there, so a ws that renamed it
 * fails here (and in the tests) instead of leaving authenticated sockets at the small bound.
 */
function setMessageLimit(socket: WebSocket, bytes: number): void {
  const receiver = (socket as unknown as { _receiver?: { _maxPayload?: unknown } })._receiver;
  if (!receiver || typeof receiver._maxPayload !== 'number') {
    throw new Error('ws no longer keeps a socket\'s message limit in _receiver._maxPayload; see setMessageLimit in websocketGate.ts');
  }
  receiver._maxPayload = bytes;
}

/** Answers an upgrade request with a plain HTTP error and closes the connection. */
function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  socket.on('error', () => socket.destroy());
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n`
    + `Content-Length: ${Buffer.byteLength(message)}\r\nRetry-After: 1\r\n\r\n${message}`);
}

export function openWebSocketGate(server: Server, opts: WebSocketGateOptions): WebSocketGate {
  // perMessageDeflate stays off: an inflated message would need the same bounds again.
  const wss = new WebSocketServer({ noServer: true, path: opts.path, maxPayload: PRE_AUTH_MESSAGE_BYTES, perMessageDeflate: false });
  const pending = new Map<WebSocket, NodeJS.Timeout>();
  const settle = (socket: WebSocket) => {
    clearTimeout(pending.get(socket));
    pending.delete(socket);
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (wss.shouldHandle(req) && pending.size >= opts.maxPendingSockets) {
      refuseUpgrade(socket, 503, 'Too many WebSocket connections are waiting for their connection_init; try again shortly');
      return;
    }
    // Other paths and malformed upgrades get ws's own 4xx answers.
    wss.handleUpgrade(req, socket, head, (ws) => {
      pending.set(ws, setTimeout(() => ws.terminate(), opts.pendingDeadlineMs));
      ws.once('close', () => settle(ws));
      // ws answers a protocol error (1009: a message over the bound) with a close frame, then goes
      // on reading, and dropping, whatever comes until the peer closes too (up to 30 s, at any
      // rate it sends). From a socket nobody has vouched for we read nothing more: reading stops
      // once ws has set it going again (on the next tick), and the socket is dropped once the
      // close frame has had time to arrive.
      ws.once('error', () => {
        if (!pending.has(ws)) return;
        setImmediate(() => socket.pause());
        clearTimeout(pending.get(ws));
        pending.set(ws, setTimeout(() => ws.terminate(), PROTOCOL_ERROR_GRACE_MS));
      });
      wss.emit('connection', ws, req);
    });
  };
  server.on('upgrade', onUpgrade);

  return {
    wss,
    admit: (socket) => {
      settle(socket);
      setMessageLimit(socket, opts.maxMessageBytes);
    },
    close: async () => {
      server.off('upgrade', onUpgrade);
      for (const socket of pending.keys()) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
