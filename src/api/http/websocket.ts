/**
 * graphql-ws on the same server and path as HTTP, the only transport for subscriptions (HTTP
 * refuses them: subscriptionsOverWebSocket.ts). The key comes in the connection_init payload
 * ({ "authorization": "Bearer <key>" }); a missing or wrong one closes the socket with 4403, and
 * a client that never sends connection_init is closed with 4408 (graphql-ws' init timeout).
 * What a socket may send before and after that is bounded in websocketGate.ts.
 * Yoga's HTTP plugins don't run here, so the tenant is put in the context from onConnect; the
 * envelop plugins (limits, cost, introspection, suggestions, masking) do run, through getEnveloped.
 *
 * Also here: a cap on each tenant's open sockets (4429) and operations (subscriptionSlots.ts),
 * and a sweep that closes (4403) the sockets of keys revoked since they connected.
 */
import type { IncomingMessage, Server } from 'node:http';
import { getOperationAST, GraphQLError } from 'graphql';
import { CloseCode, makeServer, type Server as GraphqlWsServer } from 'graphql-ws';
import type { WebSocket } from 'ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { authenticate, hashKey, liveKeyHashes, type Tenant } from '../../auth/apiKeys.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import { SubscriptionSlots, type ReleaseSlot } from './subscriptionSlots.js';
import { openWebSocketGate, type WebSocketGate } from './websocketGate.js';

export interface SocketExtra {
  socket: WebSocket;
  request: IncomingMessage;
  tenant?: Tenant;
  /** The slot each running operation holds, by its subscribe payload (a new object per subscribe message, also for a reused id). */
  slots: Map<unknown, ReleaseSlot>;
}

/**
 * Past this much unsent data, progress snapshots for that socket are skipped (the next one
 * supersedes them), and its messages are not read until it has read ours.
 */
export const SOCKET_CONGESTED_BYTES = 1024 * 1024;

const REVOCATION_SWEEP_MS = 2000;
/** A socket that has not answered the previous ping by the next one is dropped. */
const KEEPALIVE_MS = 12_000;
/** After graphql-ws' init timeout: time for the key check and the closing handshake before a pending socket is dropped. */
const PENDING_GRACE_MS = 2000;

export interface WebSocketOptions {
  maxSubscriptionsPerTenant: number;
  maxPendingWebSockets: number;
  /** Authenticated sockets per tenant (MAX_WEBSOCKETS_PER_TENANT). */
  maxWebSocketsPerTenant: number;
  /** The bound on one message from an authenticated socket (MAX_JSON_BODY_BYTES). */
  maxMessageBytes: number;
  initTimeoutMs?: number;
}

const tooManySubscriptions = (max: number) => new GraphQLError(`Too many open subscriptions: at most ${max} per tenant`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } });
const unknownOperation = (name: string | null | undefined) => new GraphQLError(name ? `Unknown operation named "${name}".` : 'Must provide operation name if query contains multiple operations.');

/**
 * Runs graphql-ws over each socket the gate lets in. (graphql-ws' own `useServer` glue prints
 * errors with console.error, outside our logger, among them every client's oversized message.)
 */
function serveGraphqlWs(gate: WebSocketGate, server: GraphqlWsServer<SocketExtra>, log: Logger) {
  gate.wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    // ws has already closed the socket for a protocol error (e.g. 1009, a message over its bound).
    socket.on('error', (err) => log.debug({ err }, 'WebSocket closed for a protocol error'));
    let answeredPing = true;
    const keepAlive = setInterval(() => {
      if (!answeredPing) { socket.terminate(); return; }
      answeredPing = false;
      socket.ping();
    }, KEEPALIVE_MS);
    socket.on('pong', () => { answeredPing = true; });
    const closed = server.opened({
      protocol: socket.protocol,
      // Resolves once written (the backpressure a slow reader exerts); a socket that broke meanwhile
      // is cleaned up by its close.
      send: (data) => new Promise<void>((resolve) => {
        if (socket.readyState !== socket.OPEN) { resolve(); return; }
        socket.send(data, () => {
          if (socket.isPaused && socket.bufferedAmount <= SOCKET_CONGESTED_BYTES) socket.resume();
          resolve();
        });
        // A client that asks (pings, operations) without reading the answers would have us queue
        // them without bound: past SOCKET_CONGESTED_BYTES unsent, its messages are not read until
        // it has read enough of ours (the send callbacks above).
        if (socket.bufferedAmount > SOCKET_CONGESTED_BYTES && !socket.isPaused) socket.pause();
      }),
      close: (code, reason) => socket.close(code, reason),
      onMessage: (handle) => socket.on('message', (data) => {
        handle(String(data)).catch((err: unknown) => {
          log.error({ err }, 'WebSocket message handling failed');
          socket.close(CloseCode.InternalServerError, 'Internal server error');
        });
      }),
    }, { socket, request, slots: new Map() });
    socket.once('close', (code, reason) => {
      clearInterval(keepAlive);
      closed(code, String(reason)).catch((err: unknown) => log.error({ err }, 'WebSocket close handling failed'));
    });
  });
}

export function attachWebSockets(
  httpServer: Server,
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>,
  db: Database,
  log: Logger,
  opts: WebSocketOptions,
) {
  const initTimeoutMs = opts.initTimeoutMs ?? 3000;
  const gate = openWebSocketGate(httpServer, {
    path: yoga.graphqlEndpoint,
    maxPendingSockets: opts.maxPendingWebSockets,
    pendingDeadlineMs: initTimeoutMs + PENDING_GRACE_MS,
    maxMessageBytes: opts.maxMessageBytes,
  });
  const keyOfSocket = new Map<WebSocket, string>();
  // Each tenant's authenticated sockets: each holds a file descriptor for as long as it answers
  // pings, and the process has a limit of them, shared with spool files and database connections.
  const socketsOfTenant = new Map<string, Set<WebSocket>>();
  const slots = new SubscriptionSlots(opts.maxSubscriptionsPerTenant);
  const release = (extra: SocketExtra, payload: unknown) => {
    extra.slots.get(payload)?.();
    extra.slots.delete(payload);
  };

  const server = makeServer<Record<string, unknown>, SocketExtra>({
    connectionInitWaitTimeout: initTimeoutMs,
    onConnect: async (ctx) => {
      const { socket } = ctx.extra;
      const authorization = String(ctx.connectionParams?.authorization ?? '');
      const tenant = await authenticate(db, authorization);
      // The socket may have been dropped while the key was looked up (the gate's deadline).
      if (!tenant || socket.readyState !== socket.OPEN) return false;
      const own = socketsOfTenant.get(tenant.id) ?? new Set<WebSocket>();
      if (own.size >= opts.maxWebSocketsPerTenant) {
        socket.close(4429, `Too many WebSockets for this tenant: at most ${opts.maxWebSocketsPerTenant}`);
        return false;
      }
      own.add(socket);
      socketsOfTenant.set(tenant.id, own);
      socket.once('close', () => {
        own.delete(socket);
        if (own.size === 0 && socketsOfTenant.get(tenant.id) === own) socketsOfTenant.delete(tenant.id);
      });
      ctx.extra.tenant = tenant;
      keyOfSocket.set(socket, hashKey(authorization.replace(/^Bearer\s+/i, '').trim()));
      gate.admit(socket);
      return true;
    },
    onClose: (ctx) => {
      keyOfSocket.delete(ctx.extra.socket);
      for (const releaseSlot of ctx.extra.slots.values()) releaseSlot();
      ctx.extra.slots.clear();
    },
    // Every way an operation ends after onSubscribe let it run: graphql-ws calls onComplete (also
    // after an error thrown by the stream), onError, or, when the socket goes, onClose.
    onComplete: (ctx, _id, payload) => release(ctx.extra, payload),
    onError: (ctx, _id, payload) => { release(ctx.extra, payload); },
    execute: (args) => (args.rootValue as { execute: (a: unknown) => unknown }).execute(args) as never,
    subscribe: (args) => (args.rootValue as { subscribe: (a: unknown) => unknown }).subscribe(args) as never,
    onSubscribe: async (ctx, _id, params) => {
      const { tenant, socket } = ctx.extra;
      if (!tenant) return [new GraphQLError('Not authenticated')];
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket,
        params,
        tenant,
        congested: () => socket.bufferedAmount > SOCKET_CONGESTED_BYTES,
      });
      // A document that does not parse, breaks a limit or names no operation of its own is an
      // error for this operation only, answered on its id; the connection and its other
      // subscriptions go on, and it takes no slot.
      let document;
      try {
        document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
      } catch (err) {
        return [err instanceof GraphQLError ? err : new GraphQLError((err as Error).message)];
      }
      if (!getOperationAST(document, params.operationName)) return [unknownOperation(params.operationName)];
      const releaseSlot = slots.tryAcquire(tenant.id);
      if (!releaseSlot) return [tooManySubscriptions(opts.maxSubscriptionsPerTenant)];
      ctx.extra.slots.set(params, releaseSlot);
      return {
        schema,
        operationName: params.operationName,
        document,
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
    },
  });
  serveGraphqlWs(gate, server, log);

  // A revoked key stops working for new requests at once; its open sockets close at the next sweep.
  const sweep = setInterval(() => {
    const asked = new Set(keyOfSocket.values());
    if (asked.size === 0) return;
    liveKeyHashes(db, [...asked])
      .then((live) => {
        // Only keys this sweep asked about: a socket that connected with another key while the
        // query ran is not known to be revoked (closing it was a race a test run caught).
        for (const [socket, hash] of keyOfSocket) if (asked.has(hash) && !live.has(hash)) socket.close(4403, 'Forbidden: the API key was revoked');
      })
      .catch((err) => log.warn({ err }, 'revocation sweep failed'));
  }, REVOCATION_SWEEP_MS);
  sweep.unref();

  return {
    wss: gate.wss,
    /** Closes every socket with 1001 (going away) and stops accepting new ones. */
    close: async () => {
      clearInterval(sweep);
      for (const client of gate.wss.clients) client.close(1001, 'Server shutting down');
      await gate.close();
    },
  };
}
