/**
 * graphql-ws on the same server and path as HTTP. The key comes in the connection_init payload
 * ({ "authorization": "Bearer <key>" }); a missing or wrong one closes the socket with 4403, and
 * a client that never sends connection_init is closed with 4408 (graphql-ws' init timeout).
 * Yoga's HTTP plugins don't run here, so the tenant is put in the context from onConnect.
 *
 * Also here: a cap on each tenant's open subscriptions, and a sweep that closes (4403) the
 * sockets of keys revoked since they connected.
 */
import type { Server } from 'node:http';
import { GraphQLError } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { authenticate, hashKey, liveKeyHashes, type Tenant } from '../../auth/apiKeys.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';

export type SocketExtra = { tenant?: Tenant; subscriptions?: Set<string> };

/** Past this much unsent data, progress snapshots for that socket are skipped (the next one supersedes them). */
export const SOCKET_CONGESTED_BYTES = 1024 * 1024;

const REVOCATION_SWEEP_MS = 2000;

export interface WebSocketOptions { maxSubscriptionsPerTenant: number; initTimeoutMs?: number }

export function attachWebSockets(
  server: Server,
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>,
  db: Database,
  log: Logger,
  opts: WebSocketOptions,
) {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const keyOfSocket = new Map<WebSocket, string>();
  const subscriptionsOfTenant = new Map<string, number>();
  const countFor = (tenantId: string, delta: number) => {
    const n = (subscriptionsOfTenant.get(tenantId) ?? 0) + delta;
    if (n > 0) subscriptionsOfTenant.set(tenantId, n); else subscriptionsOfTenant.delete(tenantId);
    return n;
  };

  const disposable = useServer<Record<string, unknown>, SocketExtra>({
    connectionInitWaitTimeout: opts.initTimeoutMs ?? 3000,
    onConnect: async (ctx) => {
      const authorization = String(ctx.connectionParams?.authorization ?? '');
      const tenant = await authenticate(db, authorization);
      if (!tenant) return false;
      ctx.extra.tenant = tenant;
      ctx.extra.subscriptions = new Set();
      keyOfSocket.set(ctx.extra.socket, hashKey(authorization.replace(/^Bearer\s+/i, '').trim()));
      return true;
    },
    onClose: (ctx) => {
      keyOfSocket.delete(ctx.extra.socket);
      const { tenant, subscriptions } = ctx.extra;
      if (tenant && subscriptions?.size) countFor(tenant.id, -subscriptions.size);
      subscriptions?.clear();
    },
    onComplete: (ctx, id) => {
      const { tenant, subscriptions } = ctx.extra;
      if (tenant && subscriptions?.delete(id)) countFor(tenant.id, -1);
    },
    execute: (args) => (args.rootValue as { execute: (a: unknown) => unknown }).execute(args) as never,
    subscribe: (args) => (args.rootValue as { subscribe: (a: unknown) => unknown }).subscribe(args) as never,
    onSubscribe: async (ctx, id, params) => {
      const { tenant, subscriptions, socket } = ctx.extra;
      if (!tenant || !subscriptions) return [new GraphQLError('Not authenticated')];
      if ((subscriptionsOfTenant.get(tenant.id) ?? 0) >= opts.maxSubscriptionsPerTenant) {
        return [new GraphQLError(`Too many open subscriptions: at most ${opts.maxSubscriptionsPerTenant} per tenant`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' } })];
      }
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket,
        params,
        tenant,
        congested: () => socket.bufferedAmount > SOCKET_CONGESTED_BYTES,
      });
      // A document that does not parse or breaks a limit is an error for this operation only,
      // answered on its id; the connection and its other subscriptions go on.
      let document;
      try {
        document = parse(params.query);
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
      } catch (err) {
        return [err instanceof GraphQLError ? err : new GraphQLError((err as Error).message)];
      }
      subscriptions.add(id);
      countFor(tenant.id, 1);
      return {
        schema,
        operationName: params.operationName,
        document,
        variableValues: params.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe },
      };
    },
  }, wss);

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
    wss,
    /** Closes every socket with 1001 (going away) and stops accepting new ones. */
    close: async () => {
      clearInterval(sweep);
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
