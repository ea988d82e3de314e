/**
 * What one GraphQL request may ask for: depth, aliases, tokens and cost are limited, and a
 * document over a limit is refused before any resolver runs (proved with a cancelJob inside the
 * refused document: the QUEUED job stays QUEUED). No batching. Introspection and GraphiQL only
 * outside production, over HTTP and WebSocket alike; no names suggested in error messages. The API
 * key only from the Authorization header. Unexpected errors masked.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { jobUuid } from './support/jobs.js';
import { postGraphql, postJson, RawGraphqlSocket, type RawResult, type WsMessage } from './support/rawGraphql.js';
import { startTestApp, type TestApp } from './support/testApp.js';
import { GraphQLTestClient } from './support/client.js';

let dev: TestApp;
let client: GraphQLTestClient;
let key: string;
/** A QUEUED job (no workers): a cancelJob that ran anywhere below would show on it. */
let queued: string;

beforeAll(async () => {
  // The limits below are asserted at these values (the service's cost default is higher).
  dev = await startTestApp({ workerConcurrency: 0, graphqlMaxCost: 5000 });
  client = await dev.clientFor('acme');
  key = client.key!;
  const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'q.csv', content: eventsCsv(manyEvents(3)) });
  queued = body.data!.uploadImport.job!.id;
});
afterAll(() => dev?.close());

const post = (query: string, variables?: Record<string, unknown>, operationName?: string) =>
  postGraphql(dev.url, key, query, variables, { operationName });

/** The request was refused as a whole: no data at all, and an error saying why. */
function expectRefused(res: RawResult, why: RegExp) {
  expect([200, 400], res.text).toContain(res.status);
  expect(res.json?.data ?? null, res.text).toBeNull();
  expect(res.json?.errors?.length, res.text).toBeGreaterThan(0);
  expect(res.json!.errors![0].message).toMatch(why);
}

async function expectStillQueued() {
  const { job } = await client.data(JobDocument, { id: queued });
  expect(job).toMatchObject({ status: 'QUEUED', finishedAt: null });
  const [row] = await dev.app.db.query<{ cancel_requested: boolean }>('select cancel_requested from import_jobs where id = $1', [jobUuid(queued)]);
  expect(row.cancel_requested).toBe(false);
}

const nexts = (messages: WsMessage[]) => messages.filter((m) => m.type === 'next');

const cancel = (alias = 'c') => `${alias}: cancelJob(id: "${queued}") { job { status } userErrors { code } }`;

/** An introspection query of depth k + 4 (introspection is the one place this schema nests that deep). */
const deepType = (k: number) => `__type(name: "Job") { fields { type { ${'ofType { '.repeat(k)}name${' }'.repeat(k)} } } }`;

/** Job.errors with `first` rows, each with all its fields. */
const errorsField = (first: string | number) => `errors(first: ${first}) { edges { node { line column value message } } }`;

describe('limits, checked before any resolver runs', () => {
  it('refuses a document deeper than 10, even when the operation to run is a shallow cancelJob', async () => {
    const ok = await post(`{ ${deepType(6)} }`);
    expect(ok.json?.errors, ok.text).toBeUndefined();
    expect(ok.json?.data).toMatchObject({ __type: { fields: expect.any(Array) } });

    expectRefused(await post(`{ ${deepType(7)} }`), /depth limit of 10 exceeded, found 11/i);

    const res = await post(`mutation Cancel { ${cancel()} } query Deep { ${deepType(7)} }`, undefined, 'Cancel');
    expectRefused(res, /depth limit of 10/i);
    await expectStillQueued();
  });

  it('refuses more than 15 aliases, and none of the aliased cancelJobs runs', async () => {
    const fifteen = await post(`{ ${Array.from({ length: 15 }, (_, i) => `a${i}: jobs(first: 1) { totalCount }`).join(' ')} }`);
    expect(fifteen.json?.errors, fifteen.text).toBeUndefined();
    expect(Object.keys(fifteen.json!.data!)).toHaveLength(15);

    const res = await post(`mutation { ${Array.from({ length: 16 }, (_, i) => cancel(`c${i}`)).join(' ')} }`);
    expectRefused(res, /aliases limit of 15 exceeded, found 16/i);
    await expectStillQueued();
  });

  it('refuses a document of more than 2000 tokens before running its cancelJob', async () => {
    const res = await post(`mutation { cancelJob(id: "${queued}") { userErrors { ${'code '.repeat(2100)} } } }`);
    expectRefused(res, /token limit of 2000/i);
    await expectStillQueued();
  });

  it('refuses a document that costs more than 5000 (page sizes and fragments count) before running its cancelJob', async () => {
    const cheap = await post(`query ($id: ID!) { job(id: $id) { ${errorsField(100)} } }`, { id: queued });
    expect(cheap.json?.errors, cheap.text).toBeUndefined();
    expectRefused(await post(`query ($id: ID!) { job(id: $id) { ${errorsField(1000)} } }`, { id: queued }), /cost limit of 5000/i);

    const res = await post(`mutation { cancelJob(id: "${queued}") { job { status ${errorsField(1000)} } } }`);
    expectRefused(res, /cost limit of 5000/i);
    await expectStillQueued();

    // A fragment spread many times costs its fragment each time.
    const bomb = `mutation { ${cancel()} } query Bomb { jobs(first: 100) { edges { node { ${'...E '.repeat(300)} } } } }
      fragment E on Job { ${errorsField(10)} }`;
    expectRefused(await post(bomb, undefined, 'Bomb'), /cost limit of 5000/i);
    await expectStillQueued();
  });

  // Regression (fixed, src/api/http/variableCostPlugin.ts): graphql-armor's cost limit multiplies by
  // `first`/`last` only when they are literals; page sizes sent as variables counted as 1.
  it('counts page sizes given as variables like literal ones', async () => {
    const res = await post(`query ($id: ID!, $n: Int) { job(id: $id) { ${errorsField('$n')} } }`, { id: queued, n: 1000 });
    expectRefused(res, /cost limit of 5000/i);
  });

  // Regression (fixed): nodes(ids:) fetched one node per id with no bound, and armor's cost counted
  // the list as one node: 200 ids of one job with errors(first: 1000) answered 222 MB.
  it('counts nodes(ids:) as a page of its ids, literal or variable, and takes at most 100 ids', async () => {
    const query = `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on Job { ${errorsField(50)} } } }`;
    const one = await post(query, { ids: [queued] });
    expect(one.json?.errors, one.text).toBeUndefined();
    expect(one.json!.data!.nodes).toHaveLength(1);
    expectRefused(await post(query, { ids: Array(5).fill(queued) }), /cost limit of 5000/i);
    expectRefused(await post(`{ nodes(ids: [${Array(5).fill(`"${queued}"`).join(', ')}]) { ... on Job { ${errorsField(50)} } } }`), /cost limit of 5000/i);

    const many = await post('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: Array(101).fill(queued) });
    expect(many.json?.errors?.[0], many.text).toMatchObject({ message: 'nodes: at most 100 ids', extensions: { code: 'BAD_USER_INPUT' } });
    const hundred = await post('query ($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: Array(100).fill(queued) });
    expect(hundred.json?.errors, hundred.text).toBeUndefined();
    expect(hundred.json!.data!.nodes).toHaveLength(100);
  });

  it('refuses a batched request (a JSON array of operations) and runs none of it', async () => {
    const res = await postJson(dev.url, key, [
      { query: `mutation { ${cancel()} }` },
      { query: '{ jobs(first: 1) { totalCount } }' },
    ]);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.json?.errors?.[0].message).toMatch(/batch/i);
    expect(res.text).not.toContain('totalCount');
    await expectStillQueued();
  });

  it('never suggests field names in error messages', async () => {
    const res = await post('{ jbos(first: 1) { totalCount } }');
    expectRefused(res, /jbos/);
    expect(res.text).not.toMatch(/did you mean/i);
    expect(res.text).not.toMatch(/"jobs"/);
  });
});

describe('the API key comes only from the Authorization header', () => {
  const QUERY = '{ jobs(first: 1) { totalCount } }';

  it('accepts it there', async () => {
    const res = await postGraphql(dev.url, key, QUERY);
    expect(res.status).toBe(200);
    expect(res.json?.data).toEqual({ jobs: { totalCount: 1 } });
  });

  it('answers 401 to a key in the query string, for POST and GET', async () => {
    for (const param of [`authorization=${encodeURIComponent(`Bearer ${key}`)}`, `key=${key}`, `api_key=${key}`, `access_token=${key}`, `token=${key}`]) {
      const posted = await postGraphql(`${dev.url}?${param}`, null, QUERY);
      expect(posted.status, param).toBe(401);
      expect(posted.text).not.toContain('totalCount');
      const got = await fetch(`${dev.url}?query=${encodeURIComponent(QUERY)}&${param}`, { headers: { accept: 'application/json' } });
      expect(got.status, param).toBe(401);
    }
  });

  it('answers 401 to a key in a cookie', async () => {
    for (const cookie of [`authorization=Bearer ${key}`, `authorization=${key}`, `key=${key}`, `token=${key}`, `session=${key}`]) {
      const res = await postGraphql(dev.url, null, QUERY, undefined, { headers: { cookie } });
      expect(res.status, cookie).toBe(401);
      expect(res.text).not.toContain('totalCount');
    }
  });
});

describe('development and production', () => {
  let prod: TestApp;
  let prodKey: string;
  let brokenSpool: string;

  beforeAll(async () => {
    // The spool folder is a file: every upload then fails inside the resolver, an unexpected error.
    brokenSpool = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-broken-')), 'spool');
    await fs.writeFile(brokenSpool, 'not a folder');
    prod = await startTestApp({ workerConcurrency: 0, production: true, spoolDir: brokenSpool, graphqlMaxCost: 5000 });
    prodKey = (await prod.clientFor('acme')).key!;
  });
  afterAll(async () => {
    await prod?.close();
    await fs.rm(path.dirname(brokenSpool), { recursive: true, force: true });
  });

  it('answers introspection in development only', async () => {
    const devRes = await post('{ __schema { queryType { name } } }');
    expect(devRes.json?.data).toEqual({ __schema: { queryType: { name: 'Query' } } });

    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Job") { fields { name } } }']) {
      const res = await postGraphql(prod.url, prodKey, query);
      expectRefused(res, /introspection/i);
      expect(res.text).not.toContain('"Query"');
      expect(res.text).not.toContain('rowsFailed');
    }
    // Ordinary queries still run in production.
    expect((await postGraphql(prod.url, prodKey, '{ jobs(first: 1) { totalCount } }')).json?.data).toEqual({ jobs: { totalCount: 0 } });
  });

  it('answers introspection over WebSocket in development only; in production that operation alone is refused', async () => {
    const devSocket = await new RawGraphqlSocket(dev.wsUrl, key).ready();
    const prodSocket = await new RawGraphqlSocket(prod.wsUrl, prodKey).ready();
    try {
      devSocket.subscribe('schema', getIntrospectionQuery());
      expect(nexts(await devSocket.settled('schema'))[0].payload.data.__schema.queryType).toMatchObject({ name: 'Query' });

      for (const [i, query] of [getIntrospectionQuery(), '{ __schema { queryType { name } } }', '{ __type(name: "Job") { fields { name } } }'].entries()) {
        prodSocket.subscribe(`schema${i}`, query);
        const answer = await prodSocket.settled(`schema${i}`);
        expect(answer[0].type).toBe('error');
        expect(JSON.stringify(answer)).toMatch(/introspection/i);
        expect(JSON.stringify(answer)).not.toMatch(/"Query"|rowsFailed/);
      }
      // The socket goes on serving ordinary operations.
      prodSocket.subscribe('jobs', '{ jobs(first: 1) { totalCount } }');
      expect(nexts(await prodSocket.settled('jobs'))[0].payload).toEqual({ data: { jobs: { totalCount: 0 } } });
    } finally {
      devSocket.close();
      prodSocket.close();
    }
  });

  // Regression (fixed, src/api/http/schemaPrivacyPlugins.ts): graphql-armor's suggestion block covered
  // only `Did you mean "name"?` at validation: enum values, and anything in variables (coerced at
  // execution), still named the schema's names.
  it('never suggests names from the schema in error messages, in either environment, over HTTP or WebSocket', async () => {
    const misspelled: { what: string; query: string; variables?: Record<string, unknown>; named: string; hidden: RegExp }[] = [
      { what: 'a field', query: '{ jbos(first: 1) { totalCount } }', named: 'jbos', hidden: /"jobs"/ },
      { what: 'an argument', query: '{ jobs(frist: 1) { totalCount } }', named: 'frist', hidden: /"first"/ },
      { what: 'a type', query: 'query ($k: ImportKnd) { jobs(first: 1) { totalCount } }', named: 'ImportKnd', hidden: /ImportKind/ },
      { what: 'an enum value written out', query: 'mutation { importBatch(input: { kind: EVENT, records: [] }) { job { id } } }', named: 'EVENT', hidden: /EVENTS/ },
      { what: 'an input field written out', query: 'mutation { importFromUrl(input: { url: "https://example.com/e.csv", kind: EVENTS, dryRn: true }) { job { id } } }', named: 'dryRn', hidden: /dryRun/ },
      {
        what: 'an enum value in a variable',
        query: 'mutation ($k: ImportKind!) { importBatch(input: { kind: $k, records: [] }) { job { id } } }',
        variables: { k: 'EVENT' }, named: 'EVENT', hidden: /EVENTS/,
      },
      {
        what: 'an input field in a variable',
        query: 'mutation ($i: ImportFromUrlInput!) { importFromUrl(input: $i) { job { id } } }',
        variables: { i: { url: 'https://example.com/e.csv', kind: 'EVENTS', dryRn: true } }, named: 'dryRn', hidden: /dryRun/,
      },
    ];
    for (const [env, app, appKey] of [['development', dev, key], ['production', prod, prodKey]] as const) {
      const socket = await new RawGraphqlSocket(app.wsUrl, appKey).ready();
      try {
        for (const [i, c] of misspelled.entries()) {
          const overHttp = (await postGraphql(app.url, appKey, c.query, c.variables)).text;
          socket.subscribe(`m${i}`, c.query, c.variables);
          const overWs = JSON.stringify(await socket.settled(`m${i}`));
          for (const [transport, text] of [['HTTP', overHttp], ['WebSocket', overWs]]) {
            const where = `${c.what}, ${env}, ${transport}: ${text}`;
            expect(text, where).toContain(c.named);
            expect(text, where).not.toMatch(/did you mean/i);
            expect(text, where).not.toMatch(c.hidden);
          }
        }
      } finally {
        socket.close();
      }
    }
    // Nothing ran.
    expect((await postGraphql(prod.url, prodKey, '{ jobs(first: 1) { totalCount } }')).json?.data).toEqual({ jobs: { totalCount: 0 } });
  });

  it('serves GraphiQL in development only', async () => {
    const devPage = await fetch(dev.url, { headers: { accept: 'text/html' } });
    expect(devPage.status).toBe(200);
    expect(await devPage.text()).toMatch(/graphiql/i);

    const prodPage = await fetch(prod.url, { headers: { accept: 'text/html' } });
    const html = await prodPage.text();
    expect(prodPage.headers.get('content-type') ?? '').not.toMatch(/text\/html/);
    expect(html).not.toMatch(/graphiql/i);
    expect(html).not.toMatch(/<html/i);
  });

  it('masks an unexpected error: a generic message, no stack, no paths, no system error', async () => {
    const file = eventsCsv([eventRow(0)]);
    const upload = await new GraphQLTestClient(prod.url, prod.wsUrl, prodKey).upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'e.csv', content: file });
    expect(upload.body.data?.uploadImport ?? null).toBeNull();
    const [error] = upload.body.errors ?? [];
    expect(error?.message).toBe('Unexpected error.');
    const text = JSON.stringify(upload.body);
    for (const leak of [brokenSpool, os.tmpdir(), 'EEXIST', 'ENOTDIR', 'mkdir', 'stack', 'node_modules', '.ts:', 'originalError']) {
      expect(text).not.toContain(leak);
    }
    expect(Object.keys(error.extensions ?? {})).toEqual(['code']);
    // And the server goes on serving.
    expect((await postGraphql(prod.url, prodKey, '{ jobs(first: 1) { totalCount } }')).status).toBe(200);
  });

  // Regression (fixed) (src/api/http/authPlugin.ts): a GET whose Accept includes text/html skips authentication (it is
  // taken for a browser loading GraphiQL). In production there is no GraphiQL, so Yoga parses,
  // validates and tries to run the operation in the query string without any key; it fails only
  // when the context finds no tenant, as a 500 "Unexpected error." that is logged as a bug. It
  // should be a 401 like any other request without a key.
  it('answers 401 to an operation sent by GET without a key in production, even when it accepts HTML', async () => {
    const res = await fetch(`${prod.url}?query=${encodeURIComponent('{ jobs(first: 1) { totalCount } }')}`, {
      headers: { accept: 'text/html, application/json' },
    });
    expect(res.status).toBe(401);
  });
});
