/** While the database is unreachable, requests get a clear 503 to retry, not an "Unexpected error". */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobsDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './support/database.js';
import { startPgProxy, type PgProxy } from './support/pgProxy.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const run = requirePostgres('the database-outage test (a proxy in front of a real Postgres)');
let db: TestDatabase;
let proxy: PgProxy;
let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  if (!run) return;
  db = await createTestDatabase();
  proxy = await startPgProxy(db.url!);
  // The service reaches its database only through the proxy, which the test then takes away.
  t = await startTestApp({ databaseUrl: proxy.url, databaseDirectUrl: db.directUrl });
  client = await t.clientFor('outage');
});
afterAll(async () => {
  await t?.close().catch(() => {});
  await db?.drop();
});

describe.runIf(run)('database outage', () => {
  it('answers 503 "try again" to GraphQL requests and readiness while the database is unreachable; /healthz stays up', async () => {
    expect((await client.request(JobsDocument, { first: 1 })).status).toBe(200);
    await proxy.close();

    const during = await client.request(JobsDocument, { first: 1 });
    expect(during.status).toBe(503);
    expect(during.body.errors?.[0]).toMatchObject({ message: 'The database is unavailable for a moment; try again shortly', extensions: { code: 'SERVICE_UNAVAILABLE' } });
    const ready = await fetch(t.url.replace(/\/graphql$/, '/readyz'));
    expect(ready.status).toBe(503);
    // Says which dependency failed, not the driver's message (host, port, user): the probe needs no key.
    expect(await ready.json()).toEqual({ status: 'unavailable', reason: 'the database is unreachable' });
    expect((await fetch(t.url.replace(/\/graphql$/, '/healthz'))).status).toBe(200);
  });
});
