/**
 * Every HTTP operation needs `Authorization: Bearer <key>`; without a valid one the answer is 401
 * before anything is parsed. The GraphiQL page itself (a browser's GET for HTML) loads without a
 * key: it has a headers editor, and its scripts, styles and editor workers are inside the page
 * (app.ts renders it with @graphql-yoga/render-graphiql), so nothing else needs to load without one.
 * WebSockets authenticate in graphql-ws's onConnect (api/http/websocket.ts).
 */
import type { Plugin } from 'graphql-yoga';
import { authenticate, type Tenant } from '../../auth/apiKeys.js';
import type { Database } from '../../db/database.js';
import { isTransientDatabaseError } from '../../db/transientErrors.js';

/** The answer while the database is unreachable (a restart, a failover): retry soon, nothing is wrong with the request. */
export const DATABASE_UNAVAILABLE = { message: 'The database is unavailable for a moment; try again shortly', extensions: { code: 'SERVICE_UNAVAILABLE' } };
/** The Retry-After (seconds) of every answer given while the database is away, however it is found out. */
export const DATABASE_RETRY_AFTER = '5';

export function authPlugin(db: Database, tenants: WeakMap<Request, Tenant>, opts: { graphiql: boolean }): Plugin {
  return {
    async onRequest({ request, endResponse, fetchAPI }) {
      const accept = request.headers.get('accept') ?? '';
      // Only the page itself: a GET that carries an operation needs a key like any other.
      const url = new URL(request.url);
      if (opts.graphiql && request.method === 'GET' && accept.includes('text/html') && !url.searchParams.has('query')) return;
      let tenant;
      try {
        tenant = await authenticate(db, request.headers.get('authorization'));
      } catch (err) {
        if (!isTransientDatabaseError(err)) throw err;
        endResponse(new fetchAPI.Response(JSON.stringify({ errors: [DATABASE_UNAVAILABLE] }), {
          status: 503, headers: { 'content-type': 'application/json', 'retry-after': DATABASE_RETRY_AFTER },
        }));
        return;
      }
      if (tenant) { tenants.set(request, tenant); return; }
      endResponse(new fetchAPI.Response(
        JSON.stringify({ errors: [{ message: 'A valid API key is required: send Authorization: Bearer <key>', extensions: { code: 'UNAUTHENTICATED' } }] }),
        { status: 401, headers: { 'content-type': 'application/json', 'www-authenticate': 'Bearer' } },
      ));
    },
  };
}
