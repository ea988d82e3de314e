/**
 * The absolute URLs the service hands out (Job.errorReportUrl) start with PUBLIC_URL, else with
 * what a trusted proxy forwards (TRUST_PROXY), else with the listening address; a client's forged
 * Host header never gets into one, over HTTP or over a WebSocket.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/apiKeys.js';
import { loadConfig } from '../src/config.js';
import { REPO_ROOT, tsxArgs } from '../bench/serverProcess.js';
import { eventRow } from './support/events.js';
import { startOwnApp, type OwnApp } from './support/ownApp.js';
import { RawGraphqlSocket } from './support/rawGraphql.js';
import { rawGraphql } from './support/rawHttp.js';

const REPORT_URL = 'query Report($id: ID!) { job(id: $id) { errorReportUrl } }';
const FORGED = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' };

let t: OwnApp;
let key: string;
/** A job with one failed row, so it has an errorReportUrl; and the route part of that URL. */
let jobId: string;
let route: string;

const listening = () => t.url.replace(/\/graphql$/, '');

async function reportUrlOverHttp(headers: Record<string, string>): Promise<string> {
  const { status, json } = await rawGraphql(t.url, key, REPORT_URL, { id: jobId }, headers);
  expect(status).toBe(200);
  expect(json.errors).toBeUndefined();
  return json.data.job.errorReportUrl;
}

/** The URL as a query over graphql-ws and as jobProgress's snapshot, on a socket opened with these headers. */
async function reportUrlsOverWebSocket(headers: Record<string, string>): Promise<string[]> {
  const socket = new RawGraphqlSocket(t.wsUrl, key, undefined, headers);
  try {
    await socket.ready();
    socket.subscribe('q', REPORT_URL, { id: jobId });
    socket.subscribe('s', 'subscription Follow($id: ID!) { jobProgress(id: $id) { status errorReportUrl } }', { id: jobId });
    const urls: string[] = [];
    for (const id of ['q', 's']) {
      const messages = await socket.settled(id);
      expect(messages.at(-1)?.type).toBe('complete');
      const next = messages.find((m) => m.type === 'next');
      expect(next?.payload.errors).toBeUndefined();
      urls.push(id === 'q' ? next!.payload.data.job.errorReportUrl : next!.payload.data.jobProgress.errorReportUrl);
    }
    return urls;
  } finally {
    socket.close();
  }
}

beforeAll(async () => {
  t = await startOwnApp();
  key = await createKey(t.app.db, 'public-url');
  const { json } = await rawGraphql(t.url, key,
    'mutation Batch($records: [JSON!]!) { importBatch(input: { kind: EVENTS, records: $records }) { job { id rowsFailed } userErrors { message } } }',
    { records: [eventRow(0), eventRow(1, { event_type: 'nope' })] });
  expect(json.data.importBatch).toMatchObject({ job: { rowsFailed: 1 }, userErrors: [] });
  jobId = json.data.importBatch.job.id;
  route = `/jobs/${encodeURIComponent(jobId)}/errors.csv`;
});
afterAll(() => t?.close());

describe('without PUBLIC_URL or TRUST_PROXY: the listening address', () => {
  it('ignores a forged Host and forwarded headers over HTTP, and the URL it gives works', async () => {
    expect(listening()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await reportUrlOverHttp(FORGED)).toBe(`${listening()}${route}`);
    expect(await reportUrlOverHttp({})).toBe(`${listening()}${route}`);
    const res = await fetch(`${listening()}${route}`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    expect((await res.text()).split('\r\n')[1]).toMatch(/^2,event_type,nope,/);
  });

  it('ignores a forged Host over a WebSocket (a query and jobProgress)', async () => {
    expect(await reportUrlsOverWebSocket(FORGED)).toEqual([`${listening()}${route}`, `${listening()}${route}`]);
  });
});

describe('TRUST_PROXY=true: what the proxy forwards', () => {
  beforeAll(() => t.restart({ trustProxy: true }));

  it('takes X-Forwarded-Proto and X-Forwarded-Host, over HTTP and over a WebSocket', async () => {
    const forwarded = { host: '127.0.0.1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'imports.example.com' };
    expect(await reportUrlOverHttp(forwarded)).toBe(`https://imports.example.com${route}`);
    expect(await reportUrlsOverWebSocket(forwarded)).toEqual([`https://imports.example.com${route}`, `https://imports.example.com${route}`]);
  });

  it('takes the value the nearest proxy appended when a header lists several, and a port with the host', async () => {
    const chained = { 'x-forwarded-proto': 'http, https', 'x-forwarded-host': 'evil.example, imports.example.com:8443' };
    expect(await reportUrlOverHttp(chained)).toBe(`https://imports.example.com:8443${route}`);
  });

  it('takes the Host the proxy passed on when it sends no X-Forwarded-Host', async () => {
    expect(await reportUrlOverHttp({ host: 'imports.internal:8080' })).toBe(`http://imports.internal:8080${route}`);
  });

  it('falls back to the listening address when a forwarded value could not make a URL', async () => {
    expect(await reportUrlOverHttp({ 'x-forwarded-host': 'evil.example/phish?' })).toBe(`${listening()}${route}`);
    expect(await reportUrlOverHttp({ 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'imports.example.com' })).toBe(`${listening()}${route}`);
  });
});

describe('PUBLIC_URL: always that, path prefix included', () => {
  beforeAll(() => t.restart({ trustProxy: true, publicUrl: 'https://imports.example.com/api/' }));

  it('starts every errorReportUrl with it, whatever the request says, over HTTP and over a WebSocket', async () => {
    const expected = `https://imports.example.com/api${route}`;
    expect(await reportUrlOverHttp(FORGED)).toBe(expected);
    expect(await reportUrlOverHttp({})).toBe(expected);
    expect(await reportUrlsOverWebSocket(FORGED)).toEqual([expected, expected]);
  });
});

describe('PUBLIC_URL and TRUST_PROXY settings', () => {
  it('normalise PUBLIC_URL to a base without a trailing slash', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://imports.example.com/api/' }).publicUrl).toBe('https://imports.example.com/api');
    expect(loadConfig({ PUBLIC_URL: 'HTTPS://Imports.Example.com' }).publicUrl).toBe('https://imports.example.com');
    expect(loadConfig({ PUBLIC_URL: 'http://10.0.0.5:8080/' }).publicUrl).toBe('http://10.0.0.5:8080');
    expect(loadConfig({}).publicUrl).toBeUndefined();
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({}).trustProxy).toBe(false);
  });

  it('refuse a PUBLIC_URL that is not an absolute http(s) base URL, naming what is wrong', () => {
    for (const value of ['imports.example.com', '/api', 'ftp://imports.example.com']) {
      expect(() => loadConfig({ PUBLIC_URL: value }), value).toThrow(/^PUBLIC_URL must be an (absolute )?http:\/\/ or https:\/\/ URL/);
    }
    for (const value of ['https://user:secret@imports.example.com', 'https://imports.example.com/?a=1', 'https://imports.example.com/#top']) {
      expect(() => loadConfig({ PUBLIC_URL: value }), value).toThrow(/^PUBLIC_URL must be a base URL without user, password, query or fragment/);
    }
    expect(() => loadConfig({ TRUST_PROXY: 'maybe' })).toThrow('TRUST_PROXY must be true or false, got "maybe"');
  });

  it('a server started with a bad PUBLIC_URL exits at once with the reason', () => {
    const run = spawnSync(process.execPath, tsxArgs('src/main.ts'), {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PUBLIC_URL: 'imports.example.com', PORT: '0', DATA_DIR: t.dataDir },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('PUBLIC_URL must be an absolute http:// or https:// URL, like https://imports.example.com, got "imports.example.com"');
  });
});
