/**
 * Every HTTP operation needs `Authorization: Bearer <key>`; without a valid one the answer is 401
 * before anything is parsed. The GraphiQL page itself (a browser's GET for HTML) loads without a
 * key: it has a headers editor. WebSockets authenticate in graphql-ws's onConnect (http/websocket.ts).
 */
import type { Plugin } from 'graphql-yoga';
import { authenticate, type Tenant } from '../auth/apiKeys.js';
import type { Database } from '../db/database.js';

export function authPlugin(db: Database, tenants: WeakMap<Request, Tenant>, opts: { graphiql: boolean }): Plugin {
  return {
    async onRequest({ request, endResponse, fetchAPI }) {
      const accept = request.headers.get('accept') ?? '';
      // Only the page itself: a GET that carries an operation needs a key like any other.
      const url = new URL(request.url);
      if (opts.graphiql && request.method === 'GET' && accept.includes('text/html') && !url.searchParams.has('query')) return;
      const tenant = await authenticate(db, request.headers.get('authorization'));
      if (tenant) { tenants.set(request, tenant); return; }
      endResponse(new fetchAPI.Response(
        JSON.stringify({ errors: [{ message: 'A valid API key is required: send Authorization: Bearer <key>', extensions: { code: 'UNAUTHENTICATED' } }] }),
        { status: 401, headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' } },
      ));
    },
  };
}
