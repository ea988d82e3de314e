/**
 * Subscriptions run over WebSocket (graphql-ws) only. Yoga would also stream them over HTTP, as
 * server-sent events (`Accept: text/event-stream`), where none of the WebSocket's rules hold: the
 * per-tenant cap, the bounds on a socket, the sweep that ends a revoked key's streams. So an HTTP
 * request for a subscription, whatever it accepts, is refused with 400 before it runs.
 */
import { getOperationAST, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const SUBSCRIPTIONS_OVER_WEBSOCKET_ONLY = 'Subscriptions are served over WebSocket only: connect a graphql-ws client '
  + '(subprotocol graphql-transport-ws) to this endpoint with ws:// or wss://';

export function subscriptionsOverWebSocketOnlyPlugin(): Plugin {
  return {
    onParse() {
      return ({ result, context }) => {
        // Only HTTP requests have `request`; a WebSocket operation's context is built in websocket.ts.
        const { request, params } = context as { request?: unknown; params?: { operationName?: string | null } };
        if (!request || !result || result instanceof Error) return;
        if (getOperationAST(result, params?.operationName)?.operation !== 'subscription') return;
        throw new GraphQLError(SUBSCRIPTIONS_OVER_WEBSOCKET_ONLY, { extensions: { code: 'SUBSCRIPTION_OVER_HTTP', http: { status: 400 } } });
      };
    },
  };
}
