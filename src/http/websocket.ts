/**
 * graphql-ws on the same server and path as HTTP. The key comes in the connection_init payload
 * ({ "authorization": "Bearer <key>" }); a missing or wrong one closes the socket with 4403.
 * Yoga's HTTP plugins don't run here, so the tenant is put in the context from onConnect.
 */
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { authenticate, type Tenant } from '../auth/apiKeys.js';
import type { Database } from '../db/database.js';

export type SocketExtra = { tenant?: Tenant };

export function attachWebSockets(server: Server, yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>, db: Database) {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const disposable = useServer<Record<string, unknown>, SocketExtra>({
    onConnect: async (ctx) => {
      const tenant = await authenticate(db, String(ctx.connectionParams?.authorization ?? ''));
      if (!tenant) return false;
      ctx.extra.tenant = tenant;
      return true;
    },
    execute: (args) => (args.rootValue as { execute: (a: unknown) => unknown }).execute(args) as never,
    subscribe: (args) => (args.rootValue as { subscribe: (a: unknown) => unknown }).subscribe(args) as never,
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params,
        tenant: ctx.extra.tenant,
      });
      const document = parse(params.query);
      const errors = validate(schema, document);
      if (errors.length > 0) return errors;
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
  return {
    wss,
    /** Closes every socket with 1001 (going away) and stops accepting new ones. */
    close: async () => {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
