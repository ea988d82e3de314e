/**
 * What a client can send wrong, argument by argument and route by route, is the client's error:
 * a clear message (BAD_USER_INPUT for GraphQL arguments, 400 for a malformed request), never an
 * "Unexpected error." or a 500, and nothing logged at error level. Each class of input that once
 * reached Postgres or a decode call unchecked has its cases here.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/apiKeys.js';
import { eventRow } from './support/events.js';
import { memoryLogger, startOwnApp, type OwnApp } from './support/ownApp.js';
import { rawGraphql, rawRequest, type RawHttpResult } from './support/rawHttp.js';

const memory = memoryLogger('debug');
let t: OwnApp;
let key: string;
let jobId: string;
const base = () => t.url.replace(/\/graphql$/, '');
const b64 = (text: string) => Buffer.from(text).toString('base64url');

/** Log lines at error level or above (pino: 50 error, 60 fatal). */
const errorsLogged = () => memory.text().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string })
  .filter((entry) => entry.level >= 50);

const gql = (query: string, variables: Record<string, unknown> = {}) => rawGraphql(t.url, key, query, variables);

/** The one GraphQL error of a refused argument: 200 (GraphQL field error), BAD_USER_INPUT, no data for the field. */
function expectBadUserInput(result: RawHttpResult, message: string): void {
  expect(result.status, result.text).toBe(200);
  expect(result.json.errors, result.text).toHaveLength(1);
  expect(result.json.errors[0]).toMatchObject({ message, extensions: { code: 'BAD_USER_INPUT' } });
}

beforeAll(async () => {
  t = await startOwnApp({}, { log: memory.log });
  key = await createKey(t.app.db, 'bad-arguments');
  const { json } = await gql('mutation Batch($records: [JSON!]!) { importBatch(input: { kind: EVENTS, records: $records }) { job { id rowsFailed } userErrors { message } } }',
    { records: [eventRow(0), eventRow(1, { event_type: 'nope' })] });
  expect(json.data.importBatch).toMatchObject({ job: { rowsFailed: 1 }, userErrors: [] });
  jobId = json.data.importBatch.job.id;
});
afterAll(async () => {
  await t?.close();
});

describe('GraphQL arguments', () => {
  const JOBS = 'query Jobs($first: Int, $last: Int, $before: String) { jobs(first: $first, last: $last, before: $before) { totalCount edges { cursor } } }';
  const ERRORS = 'query Errors($id: ID!, $first: Int, $last: Int) { job(id: $id) { errors(first: $first, last: $last) { totalCount edges { node { line } } } } }';
  const OUTCOMES = 'query Outcomes($id: ID!, $first: Int) { job(id: $id) { outcomes(first: $first) { totalCount edges { node { line } } } } }';

  it('refuses a negative or too large page size on every connection, naming the argument and its range', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      [JOBS, { first: -1 }, 'jobs: first must be between 0 and 100'],
      [JOBS, { first: 101 }, 'jobs: first must be between 0 and 100'],
      [JOBS, { last: -5 }, 'jobs: last must be between 0 and 100'],
      [JOBS, { last: 2_000_000 }, 'jobs: last must be between 0 and 100'],
      [ERRORS, { id: jobId, first: -5 }, 'Job.errors: first must be between 0 and 1000'],
      [ERRORS, { id: jobId, first: 1001 }, 'Job.errors: first must be between 0 and 1000'],
      [ERRORS, { id: jobId, last: 5 }, 'Job.errors pages forward only: use first and after'],
      [OUTCOMES, { id: jobId, first: -5 }, 'Job.outcomes: first must be between 0 and 1000'],
      [OUTCOMES, { id: jobId, first: 1001 }, 'Job.outcomes: first must be between 0 and 1000'],
    ];
    for (const [query, variables, message] of cases) expectBadUserInput(await gql(query, variables), message);

    // The bounds themselves are fine.
    expect((await gql(JOBS, { first: 0 })).json.data.jobs).toEqual({ totalCount: 1, edges: [] });
    expect((await gql(JOBS, { first: 100 })).json.data.jobs.edges).toHaveLength(1);
    expect((await gql(ERRORS, { id: jobId, first: 1000 })).json.data.job.errors).toEqual({ totalCount: 1, edges: [{ node: { line: 2 } }] });
    expect((await gql(ERRORS, { id: jobId, first: 0 })).json.data.job.errors).toEqual({ totalCount: 1, edges: [] });
    expect((await gql(OUTCOMES, { id: jobId, first: 1000 })).json.data.job.outcomes).toEqual({ totalCount: 0, edges: [] });
    expect(errorsLogged()).toEqual([]);
  });

  it('refuses a filter listing more statuses or kinds than there are, and counts a repeated one once', async () => {
    const FILTERED = 'query Filtered($filter: JobFilter) { jobs(first: 10, filter: $filter) { totalCount edges { node { status } } } }';
    expectBadUserInput(await gql(FILTERED, { filter: { status: Array(70_000).fill('COMPLETED') } }),
      'jobs: filter.status lists 70000 values; there are 5, name each at most once');
    expectBadUserInput(await gql(FILTERED, { filter: { kind: Array(7).fill('EVENTS') } }),
      'jobs: filter.kind lists 7 values; there are 6, name each at most once');

    const repeated = await gql(FILTERED, { filter: { status: ['COMPLETED', 'COMPLETED', 'FAILED', 'COMPLETED'], kind: ['EVENTS', 'EVENTS'] } });
    expect(repeated.json).toEqual({ data: { jobs: { totalCount: 1, edges: [{ node: { status: 'COMPLETED' } }] } } });
    const all = await gql(FILTERED, { filter: { status: ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] } });
    expect(all.json.data.jobs.totalCount).toBe(1);
    expect(errorsLogged()).toEqual([]);
  });

  it('refuses a malformed cursor, or one of another list, on jobs and on a job\'s lists', async () => {
    const AFTER = 'query After($after: String, $before: String) { jobs(first: 5, after: $after, before: $before) { edges { cursor } } }';
    const ERRORS_AFTER = 'query ErrorsAfter($id: ID!, $after: String) { job(id: $id) { errors(first: 5, after: $after) { edges { cursor } } } }';
    const OUTCOMES_AFTER = 'query OutcomesAfter($id: ID!, $after: String) { job(id: $id) { outcomes(first: 5, after: $after) { edges { cursor } } } }';
    const message = 'Invalid cursor: use a cursor from this list\'s edges or pageInfo';
    for (const cursor of ['garbage', b64('error:5'), b64('job:-5'), b64('job:1.5'), b64('job:'), b64('job:1e3'), b64('job:99999999999999999999'), 'A'.repeat(100_000)]) {
      expectBadUserInput(await gql(AFTER, { after: cursor }), message);
      expectBadUserInput(await gql(AFTER, { before: cursor }), message);
    }
    for (const cursor of [b64('job:1'), b64('error:-1'), b64('outcome:x')]) {
      expectBadUserInput(await gql(ERRORS_AFTER, { id: jobId, after: cursor }), message);
    }
    expectBadUserInput(await gql(OUTCOMES_AFTER, { id: jobId, after: b64('error:1') }), message);

    // The largest key a cursor may hold reaches the database as a number it takes (bigint keys).
    expect((await gql(AFTER, { after: b64('job:999999999999999') })).json).toEqual({ data: { jobs: { edges: [{ cursor: expect.any(String) }] } } });
    expect((await gql(ERRORS_AFTER, { id: jobId, after: b64('error:999999999999999') })).json).toEqual({ data: { job: { errors: { edges: [] } } } });
    expect((await gql(OUTCOMES_AFTER, { id: jobId, after: b64('outcome:999999999999999') })).json).toEqual({ data: { job: { outcomes: { edges: [] } } } });

    // A cursor the service gave still works.
    const { json } = await gql(AFTER, {});
    expect((await gql(AFTER, { before: json.data.jobs.edges[0].cursor })).json.data.jobs.edges).toEqual([]);
    expect(errorsLogged()).toEqual([]);
  });

  it('refuses an id that is not one of ours without echoing it back', async () => {
    const JOB = 'query Job($id: ID!) { job(id: $id) { id } }';
    const NODE = 'query Node($id: ID!) { node(id: $id) { id } }';
    const huge = 'A'.repeat(100_000);
    for (const id of ['xyz', Buffer.from('User:1').toString('base64'), huge]) {
      const result = await gql(JOB, { id });
      expectBadUserInput(result, 'job: id is not a Job id');
      expect(result.text.length).toBeLessThan(1000);
    }
    for (const id of ['%%%', huge]) {
      const result = await gql(NODE, { id });
      expectBadUserInput(result, 'Invalid ID: use an id this service returned');
      expect(result.text.length).toBeLessThan(1000);
    }
    expect((await gql(JOB, { id: jobId })).json.data.job.id).toBe(jobId);
    expect((await gql(NODE, { id: jobId })).json.data.node.id).toBe(jobId);
    expect(errorsLogged()).toEqual([]);
  });

  it('refuses node and nodes ids of any type but Job alike, without naming what the schema holds', async () => {
    const NODES = 'query Nodes($id: ID!) { node(id: $id) { id } nodes(ids: [$id]) { id } }';
    // Types the schema has (an object, the root, an interface, an enum), names it lacks, and prototype keys.
    for (const typename of ['Query', 'JobError', 'Node', 'JobStatus', 'Tenant', 'constructor', '__proto__', 'toString']) {
      const result = await gql(NODES, { id: Buffer.from(`${typename}:1`).toString('base64') });
      expect(result.status, result.text).toBe(200);
      expect(result.json.errors, result.text).toHaveLength(2);
      for (const error of result.json.errors) {
        expect(error, typename).toMatchObject({ message: 'Invalid ID: use an id this service returned', extensions: { code: 'BAD_USER_INPUT' } });
      }
    }
    expect(errorsLogged()).toEqual([]);
  });
});

describe('HTTP requests', () => {
  const auth = () => ({ authorization: `Bearer ${key}` });

  function expectBadRequest(result: RawHttpResult, message: string): void {
    expect(result.status, result.text).toBe(400);
    expect(result.json, result.text).toEqual({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
  }

  it('answers a path in bad percent-encoding with 400 on every route', async () => {
    const message = 'The request path is not valid percent-encoding: % must be followed by two hex digits encoding UTF-8';
    for (const target of ['/%E0%A4%A', `/jobs/${encodeURIComponent(jobId)}%ZZ/errors.csv`, '/console/%E0%A4%A.js', '/healthz%C0', '/graphql%E0?query=%7B__typename%7D', '/%']) {
      expectBadRequest(await rawRequest(base(), target, { headers: auth() }), message);
    }
    expect(errorsLogged()).toEqual([]);
  });

  it('answers a request target that is not a path, or a Host header that is not a host, with 400', async () => {
    for (const target of ['http://evil.example/healthz', '*']) {
      expectBadRequest(await rawRequest(base(), target, { method: target === '*' ? 'OPTIONS' : 'GET' }), 'The request target must be a path, like /graphql');
    }
    for (const host of ['a b', 'evil.example/x', 'user@evil.example', 'evil.example:port']) {
      expectBadRequest(await rawRequest(base(), '/graphql?query=%7B__typename%7D', { headers: { ...auth(), host, accept: 'application/json' } }),
        'The Host header must be a host name or address, with an optional :port');
    }
    expect(errorsLogged()).toEqual([]);
  });

  it('answers GraphQL GET and form parameters that are not JSON with 400, naming the parameter', async () => {
    const query = encodeURIComponent('{ jobs(first: 1) { totalCount } }');
    for (const name of ['variables', 'extensions']) {
      expectBadRequest(await rawRequest(base(), `/graphql?query=${query}&${name}=%7Bxx`, { headers: { ...auth(), accept: 'application/json' } }),
        `The ${name} parameter is not valid JSON`);
      expectBadRequest(await rawRequest(base(), '/graphql', {
        method: 'POST',
        headers: { ...auth(), accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: `query=${query}&${name}=%7Bxx`,
      }), `The ${name} parameter is not valid JSON`);
    }
    // Well-formed ones still work both ways.
    const ok = await rawRequest(base(), `/graphql?query=${query}&variables=%7B%7D`, { headers: { ...auth(), accept: 'application/json' } });
    expect(ok.json).toEqual({ data: { jobs: { totalCount: 1 } } });
    const form = await rawRequest(base(), '/graphql', {
      method: 'POST', headers: { ...auth(), accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' }, body: `query=${query}`,
    });
    expect(form.json).toEqual({ data: { jobs: { totalCount: 1 } } });
    expect(errorsLogged()).toEqual([]);
  });

  it('answers an overly long URL with a 4xx (Node\'s header limit), and long paths within it as any other', async () => {
    expect((await rawRequest(base(), `/${'a'.repeat(20_000)}`)).status).toBe(431);
    expect((await rawRequest(base(), `/graphql?query=${'a'.repeat(20_000)}`, { headers: auth() })).status).toBe(431);
    const longReport = await rawRequest(base(), `/jobs/${'A'.repeat(10_000)}/errors.csv`, { headers: auth() });
    expect([longReport.status, longReport.text]).toEqual([404, 'Job not found\n']);
    // No such console file: like any other unknown path, it falls through to GraphQL, which wants a key.
    expect((await rawRequest(base(), `/console/${'a'.repeat(10_000)}.js`)).status).toBe(401);
    expect((await rawRequest(base(), '/healthz')).status).toBe(200);
    expect(errorsLogged()).toEqual([]);
  });
});

describe('a client that goes away', () => {
  it('closing the connection in the middle of an error report is no server error', async () => {
    const records = Array.from({ length: 3000 }, (_, i) => eventRow(i, { event_type: 'nope', user_agent: 'u'.repeat(3000) }));
    const { json } = await gql('mutation Batch($records: [JSON!]!) { importBatch(input: { kind: EVENTS, records: $records }) { job { id rowsFailed } } }', { records });
    expect(json.data.importBatch.job.rowsFailed).toBe(3000);
    const { port } = new URL(base());
    for (let i = 0; i < 3; i++) {
      // Reads the start of the ~10 MB report, then hangs up.
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(`GET /jobs/${encodeURIComponent(json.data.importBatch.job.id)}/errors.csv HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`);
        });
        socket.once('data', (chunk) => {
          expect(chunk.toString('latin1')).toMatch(/^HTTP\/1\.1 200 /);
          socket.destroy();
          resolve();
        });
        socket.once('error', reject);
      });
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(errorsLogged()).toEqual([]);
    expect((await rawRequest(base(), '/healthz')).status).toBe(200);
  });
});
