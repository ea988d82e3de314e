/**
 * API keys over HTTP and WebSocket, tenant isolation on every way to reach a job, keys stored only
 * as hashes, and `bulk-import keys create` making a key that works.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelJobDocument, JobDocument, JobErrorsDocument, JobProgressDocument, JobsDocument, NodeDocument, UploadImportDocument,
} from '../src/generated/gql/graphql.js';
import { createKey, revokeKey } from '../src/auth/apiKeys.js';
import { GraphQLTestClient } from './support/client.js';
import { realPostgres } from './support/database.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '..');

let t: TestApp;
/** Every key made in this file, to look for in the api_keys table. */
const keys: string[] = [];

beforeAll(async () => {
  // No workers: uploaded jobs stay QUEUED, so a cancel that crossed tenants would show.
  t = await startTestApp({ workerConcurrency: 0 });
});
afterAll(() => t?.close());

async function newKey(tenant: string): Promise<string> {
  const key = await createKey(t.app.db, tenant);
  keys.push(key);
  return key;
}
const clientWith = (key: string | null) => new GraphQLTestClient(t.url, t.wsUrl, key);

/** A well-formed Job global id of a job that does not exist. */
const MISSING_JOB_ID = Buffer.from('Job:00000000-0000-4000-8000-000000000000').toString('base64');

describe('HTTP', () => {
  it('answers 401 without an Authorization header, and runs nothing', async () => {
    const { status, body } = await clientWith(null).request(JobsDocument, { first: 5 });
    expect(status).toBe(401);
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0].message).toMatch(/API key/);
  });

  it('answers 401 to a wrong key, and to a header that is not a Bearer token', async () => {
    const good = await newKey('acme');
    expect((await clientWith(good).request(JobsDocument, { first: 1 })).status).toBe(200);

    expect((await clientWith('bik_not-a-real-key').request(JobsDocument, { first: 1 })).status).toBe(401);
    expect((await clientWith(`${good}x`).request(JobsDocument, { first: 1 })).status).toBe(401);

    const res = await fetch(t.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${good}` },
      body: JSON.stringify({ query: '{ jobs(first: 1) { totalCount } }' }),
    });
    expect(res.status).toBe(401);
  });

  it('answers 401 to a multipart upload without a key, and creates no job', async () => {
    const key = await newKey('upload-tenant');
    const { status } = await clientWith(null).upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'e.csv', content: eventsCsv(manyEvents(2)) });
    expect(status).toBe(401);
    const { jobs } = await clientWith(key).data(JobsDocument, { first: 1 });
    expect(jobs.totalCount).toBe(0);
  });

  it('answers 401 to a key once it is revoked', async () => {
    const key = await newKey('revoked-tenant');
    const client = clientWith(key);
    expect((await client.request(JobsDocument, { first: 1 })).status).toBe(200);

    expect(await revokeKey(t.app.db, key)).toBe(true);
    const { status, body } = await client.request(JobsDocument, { first: 1 });
    expect(status).toBe(401);
    expect(body.data).toBeUndefined();
    // The tenant's other keys still work.
    const other = await newKey('revoked-tenant');
    expect((await clientWith(other).request(JobsDocument, { first: 1 })).status).toBe(200);
  });

  it('serves the GraphiQL page to a browser without a key', async () => {
    const res = await fetch(t.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toMatch(/graphiql/i);
  });

  it('does not run an operation sent by GET without a key, even when the client accepts HTML', async () => {
    const key = await newKey('get-tenant');
    const query = encodeURIComponent('{ jobs(first: 1) { totalCount } }');

    const plain = await fetch(`${t.url}?query=${query}`, { headers: { accept: 'application/json' } });
    expect(plain.status).toBe(401);

    const html = await fetch(`${t.url}?query=${query}`, { headers: { accept: 'text/html, application/json' } });
    const text = await html.text();
    expect(text).not.toContain('"totalCount"');

    // With a key, the same GET runs.
    const keyed = await fetch(`${t.url}?query=${query}`, { headers: { accept: 'application/json', authorization: `Bearer ${key}` } });
    expect(keyed.status).toBe(200);
    expect(await keyed.json()).toEqual({ data: { jobs: { totalCount: 0 } } });
  });
});

describe('WebSocket', () => {
  it('closes a connection whose connection_init has no key with 4403', async () => {
    await expect(clientWith(null).subscribe(JobProgressDocument, { id: MISSING_JOB_ID })).rejects.toThrow(/^socket closed 4403/);
  });

  it('closes a connection whose connection_init has a wrong or revoked key with 4403', async () => {
    await expect(clientWith('bik_wrong').subscribe(JobProgressDocument, { id: MISSING_JOB_ID })).rejects.toThrow(/^socket closed 4403/);
    const key = await newKey('ws-revoked');
    await revokeKey(t.app.db, key);
    await expect(clientWith(key).subscribe(JobProgressDocument, { id: MISSING_JOB_ID })).rejects.toThrow(/^socket closed 4403/);
  });

  it('accepts a good key: the subscription runs and answers for the job instead of closing the socket', async () => {
    const key = await newKey('ws-good');
    const outcome = await clientWith(key).subscribe(JobProgressDocument, { id: MISSING_JOB_ID }).then(() => 'completed', (err: Error) => err.message);
    expect(outcome).not.toMatch(/socket closed/);
    expect(outcome).not.toBe('completed'); // a job that does not exist is an error
  });
});

describe('tenant isolation', () => {
  let a: GraphQLTestClient;
  let b: GraphQLTestClient;
  let jobId: string;

  beforeAll(async () => {
    a = clientWith(await newKey('tenant-a'));
    b = clientWith(await newKey('tenant-b'));
    const { status, body } = await a.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'a.csv', content: eventsCsv(manyEvents(5)) });
    expect(status).toBe(200);
    expect(body.data?.uploadImport.userErrors).toEqual([]);
    jobId = body.data!.uploadImport.job!.id;
    expect((await a.data(JobDocument, { id: jobId })).job?.status).toBe('QUEUED');
  });

  it("hides A's job from B in job(id), node(id), jobs and Job.errors", async () => {
    expect((await a.data(NodeDocument, { id: jobId })).node).toMatchObject({ id: jobId, status: 'QUEUED', kind: 'EVENTS' });

    expect((await b.data(JobDocument, { id: jobId })).job).toBeNull();
    expect((await b.data(NodeDocument, { id: jobId })).node).toBeNull();
    expect((await b.data(JobErrorsDocument, { id: jobId, first: 10 })).job).toBeNull();

    const theirs = await b.data(JobsDocument, { first: 10 });
    expect(theirs.jobs.totalCount).toBe(0);
    expect(theirs.jobs.edges).toEqual([]);
    const filtered = await b.data(JobsDocument, { first: 10, filter: { status: ['QUEUED'], kind: ['EVENTS'] } });
    expect(filtered.jobs.totalCount).toBe(0);

    const mine = await a.data(JobsDocument, { first: 10 });
    expect(mine.jobs.totalCount).toBe(1);
    expect(mine.jobs.edges.map((e) => e.node.id)).toEqual([jobId]);
  });

  it("does not let B cancel A's job: NOT_FOUND, and A's job is still queued", async () => {
    const { cancelJob } = await b.data(CancelJobDocument, { id: jobId });
    expect(cancelJob.job).toBeNull();
    expect(cancelJob.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
    expect((await a.data(JobDocument, { id: jobId })).job).toMatchObject({ status: 'QUEUED', finishedAt: null });
  });

  it("does not let B follow A's job: jobProgress fails exactly as for a job that does not exist", async () => {
    const outcomeFor = (id: string) => b.subscribe(JobProgressDocument, { id }).then(
      (events) => `completed with ${JSON.stringify(events)}`, (err: Error) => `error: ${err.message}`);
    const theirs = await outcomeFor(jobId);
    expect(theirs).toMatch(/^error: /);
    expect(theirs).toBe(await outcomeFor(MISSING_JOB_ID));
  });

  it('says "not found" when B subscribes to A\'s job', async () => {
    await expect(b.subscribe(JobProgressDocument, { id: jobId })).rejects.toThrow(/not found/i);
  });
});

describe('key storage', () => {
  it('keeps no API key in clear in the api_keys table', async () => {
    await newKey('storage-check');
    const rows = await t.app.db.query<{ key_hash: string; row: string }>('select key_hash, row_to_json(k)::text as row from api_keys k');
    expect(rows.length).toBe(keys.length);
    const hashes = new Set(rows.map((r) => r.key_hash));
    for (const key of keys) {
      expect(hashes.has(key)).toBe(false);
      for (const r of rows) expect(r.row).not.toContain(key);
      // What is kept is the key's digest, so it can still be checked.
      expect(hashes.has(createHash('sha256').update(key).digest('hex'))).toBe(true);
    }
  });
});

describe('bulk-import keys create', () => {
  it('prints one new key, alone, that then authenticates for its tenant', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'silent' };
    delete env.DATABASE_URL;
    delete env.DATABASE_DIRECT_URL;
    if (realPostgres) Object.assign(env, { DATABASE_URL: t.databaseUrl }, t.databaseDirectUrl ? { DATABASE_DIRECT_URL: t.databaseDirectUrl } : {});
    // Embedded (the suite's PGlite): the server holds the folder, and the CLI hands the key to it through DATA_DIR.
    else Object.assign(env, { DATA_DIR: t.dataDir, EMBEDDED_DATABASE: 'pglite' });

    const { stdout } = await run('npx', ['tsx', 'src/cli/index.ts', 'keys', 'create', '--tenant', 'cli-tenant'], { cwd: ROOT, env, timeout: 45_000 });
    expect(stdout).toMatch(/^bik_[A-Za-z0-9_-]{20,}\n$/);
    const key = stdout.trim();
    keys.push(key);

    const { status, body } = await clientWith(key).request(JobsDocument, { first: 1 });
    expect(status).toBe(200);
    expect(body.data?.jobs.totalCount).toBe(0);

    const [owner] = await t.app.db.query<{ name: string }>(
      'select t.name from api_keys k join tenants t on t.id = k.tenant_id where k.key_hash = $1',
      [createHash('sha256').update(key).digest('hex')],
    );
    expect(owner?.name).toBe('cli-tenant');
  });
});
