/**
 * importFromUrl against real servers on 127.0.0.1: an HTTPS file server and an S3-compatible one
 * that verifies SigV4 signatures (support/sourceServers.ts), both with a self-signed certificate
 * the app trusts through SOURCE_CA_FILE. The app allows private addresses (everything here is on
 * loopback) but not plain http; the default address rules are checked without a server below.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKey } from '../src/auth/apiKeys.js';
import { ImportFromUrlDocument, JobReadingDocument, type ImportFromUrlInput } from '../src/generated/gql/graphql.js';
import { isPrivateAddress, type SourceSettings } from '../src/intake/sources/network.js';
import { openSource, parseSource } from '../src/intake/sources/urlSource.js';
import { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { jobCount, spoolFiles, waitForJob } from './support/jobs.js';
import { memoryLogger, startOwnApp, type OwnApp } from './support/ownApp.js';
import { makeCertificate, startHttpsServer, startS3Server, type Certificate, type RunningServer, type S3Server } from './support/sourceServers.js';

const MAX_FILE_SIZE = 64 * 1024;
const TIMEOUT_MS = 1500;
const DEADLINE_MS = 3000;
const ACCESS_KEY_ID = 'AKIDBULKIMPORTTEST';
const SECRET = `s3cr3t/${randomBytes(12).toString('base64url')}`;
const PRESIGNED_SIGNATURE = `sig${randomBytes(8).toString('hex')}`;

const EVENTS = eventsCsv(manyEvents(20));
const OTHER_EVENTS = eventsCsv(manyEvents(5, 100));
const PRESIGNED_EVENTS = eventsCsv(manyEvents(3, 200));
const S3_EVENTS = eventsCsv(manyEvents(12, 300));
const TOO_LARGE = eventsCsv(manyEvents(400));

let dir: string;
let certificate: Certificate;
let files: RunningServer;
let s3: S3Server;
let t: OwnApp;
const logs = memoryLogger('debug');
/** How the chunked over-size download ended on the file server's side. */
const endless = { sent: 0, finished: true, closed: false };
/** The endless file's size in 50-row chunks (~13 KB each): ~50 MB, far past what buffers hold once the reader stops. */
const ENDLESS_CHUNKS = 4000;
/** GETs of /counted.csv and /stall.csv, to tell a refusal before the download from one after it. */
const counted = { gets: 0, stalls: 0 };

function fileServer(req: http.IncomingMessage, res: http.ServerResponse): void {
  const { pathname } = new URL(req.url ?? '/', 'https://x');
  const csv = (body: string) => res.writeHead(200, { 'content-type': 'text/csv', 'content-length': Buffer.byteLength(body) }).end(body);
  switch (pathname) {
    case '/exports/events.csv': csv(EVENTS); return;
    case '/exports/other.csv': csv(OTHER_EVENTS); return;
    case '/exports/presigned.csv': csv(PRESIGNED_EVENTS); return;
    case '/exports/bad-header.csv': csv(eventsCsv([eventRow(1)], ['event_type', 'inserted_at', 'favourite_colour'])); return;
    case '/exports/too-large.csv': csv(TOO_LARGE); return;
    case '/exports/staff.txt': csv('Full Name|Phone|Staff No\nAsha Kumari|9845012345|KA-T-0001\n'); return;
    case '/redirect': res.writeHead(302, { location: '/exports/other.csv' }).end(); return;
    case '/loop': res.writeHead(302, { location: '/loop' }).end(); return;
    case '/to-http': res.writeHead(301, { location: `http://127.0.0.1:${(req.socket.address() as AddressInfo).port}/exports/events.csv` }).end(); return;
    case '/broken': res.writeHead(500).end('oops'); return;
    case '/counted.csv': counted.gets++; csv(OTHER_EVENTS); return;
    case '/stall.csv':
      counted.stalls++;
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.write(EVENTS.slice(0, 100)); // and then nothing, with the connection left open
      return;
    case '/drip.csv': {
      // A row now and then, each well within the idle timeout, never the end.
      res.writeHead(200, { 'content-type': 'text/csv' });
      res.write(EVENTS.split('\n')[0] + '\n');
      const drip = setInterval(() => res.write(eventsCsv(manyEvents(1)).split('\n')[1] + '\n'), TIMEOUT_MS / 5);
      res.on('close', () => clearInterval(drip));
      return;
    }
    case '/endless.csv': {
      // No Content-Length: only counting the bytes can find it too large.
      res.writeHead(200, { 'content-type': 'text/csv' });
      const chunk = Buffer.from(eventsCsv(manyEvents(50)).split('\n').slice(1).join('\n'));
      res.write(EVENTS.split('\n')[0] + '\n');
      Object.assign(endless, { sent: 0, finished: false, closed: false });
      res.on('close', () => { endless.closed = true; endless.finished = res.writableFinished; });
      const pump = () => {
        while (!res.destroyed && endless.sent < ENDLESS_CHUNKS * chunk.length) {
          endless.sent += chunk.length;
          if (!res.write(chunk)) { res.once('drain', pump); return; }
        }
        if (!res.destroyed) res.end();
      };
      pump();
      return;
    }
    default: res.writeHead(404).end('not here');
  }
}

const S3_OBJECTS = new Map<string, string>([
  ['imports/2024/events.csv', S3_EVENTS],
  ['imports/too-large.csv', TOO_LARGE],
]);

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-sources-'));
  certificate = makeCertificate(dir);
  files = await startHttpsServer(certificate, fileServer);
  s3 = await startS3Server(certificate, { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }, S3_OBJECTS);
  t = await startOwnApp({
    maxFileSize: MAX_FILE_SIZE,
    sourceTimeoutMs: TIMEOUT_MS,
    sourceDeadlineMs: DEADLINE_MS,
    sourceCaFile: certificate.certFile,
    allowPrivateSourceAddresses: true,
  }, { log: logs.log });
});
afterAll(async () => {
  await t?.close();
  await files?.close();
  await s3?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

async function clientFor(tenant: string): Promise<GraphQLTestClient> {
  return new GraphQLTestClient(t.url, t.wsUrl, await createKey(t.app.db, tenant));
}

/** Every raw response body of the S3 tests, to look for the secret in. */
const s3Responses: string[] = [];

async function importFromUrl(client: GraphQLTestClient, input: ImportFromUrlInput) {
  const { status, body } = await client.request(ImportFromUrlDocument, { input });
  if (input.s3) s3Responses.push(JSON.stringify(body));
  expect(status, JSON.stringify(body)).toBe(200);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data!.importFromUrl;
}

describe('importFromUrl from https', () => {
  it('downloads the file, answers with the QUEUED job, and imports its rows; the same file again is a DUPLICATE_FILE', async () => {
    const client = await clientFor('https-happy');
    const url = `${files.origin}/exports/events.csv`;
    const first = await importFromUrl(client, { url, kind: 'EVENTS' });
    expect(first.userErrors).toEqual([]);
    expect(first.job).toMatchObject({ status: 'QUEUED', kind: 'EVENTS', format: 'CSV', filename: 'events.csv', fileSize: Buffer.byteLength(EVENTS) });
    const done = await waitForJob(client, first.job!.id);
    expect(done).toMatchObject({ status: 'COMPLETED', rowsProcessed: 20, rowsImported: 20, rowsFailed: 0 });

    const again = await importFromUrl(client, { url, kind: 'EVENTS' });
    expect(again.job).toBeNull();
    expect(again.userErrors).toEqual([{ code: 'DUPLICATE_FILE', message: expect.stringContaining('already imported as EVENTS'), field: ['input', 'url'] }]);
  });

  it('follows a redirect; refuses a redirect loop and a redirect to plain http', async () => {
    const client = await clientFor('https-redirects');
    const redirected = await importFromUrl(client, { url: `${files.origin}/redirect`, kind: 'EVENTS' });
    expect(redirected.userErrors).toEqual([]);
    // The file name comes from the URL the tenant gave, which here has no extension: CSV by content.
    expect(redirected.job).toMatchObject({ status: 'QUEUED', format: 'CSV', filename: 'redirect' });
    expect(await waitForJob(client, redirected.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 5 });

    const loop = await importFromUrl(client, { url: `${files.origin}/loop`, kind: 'EVENTS' });
    expect(loop).toEqual({ job: null, userErrors: [{ code: 'INVALID_INPUT', message: `${files.origin}/loop redirected more than 5 times`, field: ['input', 'url'] }] });
    const toHttp = await importFromUrl(client, { url: `${files.origin}/to-http`, kind: 'EVENTS' });
    expect(toHttp.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringMatching(/redirected to http:\/\/127\.0\.0\.1:\d+\/exports\/events\.csv, refused: not an https:\/\/ URL$/), field: ['input', 'url'] }]);
  });

  it('answers a status other than 2xx with a user error that names it, without the query string', async () => {
    const client = await clientFor('https-status');
    const missing = await importFromUrl(client, { url: `${files.origin}/missing.csv?X-Amz-Signature=${PRESIGNED_SIGNATURE}`, kind: 'EVENTS' });
    expect(missing).toEqual({ job: null, userErrors: [{ code: 'INVALID_INPUT', message: `${files.origin}/missing.csv answered HTTP 404 Not Found; only a 2xx answer is imported`, field: ['input', 'url'] }] });
    const broken = await importFromUrl(client, { url: `${files.origin}/broken`, kind: 'EVENTS' });
    expect(broken.userErrors[0].message).toBe(`${files.origin}/broken answered HTTP 500 Internal Server Error; only a 2xx answer is imported`);
    expect(await jobCount(client)).toBe(0);
  });

  it('refuses any URL that is not https:// or s3://, naming the url field', async () => {
    const client = await clientFor('https-schemes');
    const cases: [string, string][] = [
      [`http://127.0.0.1/events.csv`, 'url must use https:// (or be s3://bucket/key): plain http:// is not accepted, since the file would travel unencrypted'],
      ['file:///etc/passwd', 'url scheme "file:" is not supported: use https:// or s3://bucket/key'],
      ['ftp://example.com/events.csv', 'url scheme "ftp:" is not supported: use https:// or s3://bucket/key'],
      ['javascript:alert(1)', 'url scheme "javascript:" is not supported: use https:// or s3://bucket/key'],
      ['events.csv', 'url must be an https:// URL or s3://bucket/key'],
      ['https://', 'url is not a valid URL: use https://host/path or s3://bucket/key'],
    ];
    for (const [url, message] of cases) {
      expect(await importFromUrl(client, { url, kind: 'EVENTS' }), url).toEqual({ job: null, userErrors: [{ code: 'INVALID_INPUT', message, field: ['input', 'url'] }] });
    }
    expect(await jobCount(client)).toBe(0);
  });

  it('takes a delimiter, a column mapping and a name to save it as, as an upload does', async () => {
    const client = await clientFor('https-mapping');
    const columnMapping = [{ from: 'Full Name', to: 'NAME' }, { from: 'Phone', to: 'MOBILE PHONE' }, { from: 'Staff No', to: 'External ID' }];
    const payload = await importFromUrl(client, { url: `${files.origin}/exports/staff.txt`, kind: 'USERS', format: 'CSV', delimiter: '|', columnMapping, saveMappingAs: 'staff' });
    expect(payload.userErrors).toEqual([]);
    expect(await waitForJob(client, payload.job!.id)).toMatchObject({ status: 'COMPLETED', rowsCreated: 1 });
    const { job } = await client.data(JobReadingDocument, { id: payload.job!.id });
    expect(job).toMatchObject({ delimiter: '|', columnMappingName: 'staff', columnMapping });
  });

  it('checks the file as an upload is checked: SCHEMA_MISMATCH, and FILE_TOO_LARGE with or without a Content-Length, keeping nothing', async () => {
    const client = await clientFor('https-checks');
    const header = await importFromUrl(client, { url: `${files.origin}/exports/bad-header.csv`, kind: 'EVENTS' });
    expect(header.userErrors).toEqual([{ code: 'SCHEMA_MISMATCH', message: expect.stringContaining('favourite_colour'), field: ['input', 'url'] }]);

    const tooLarge = { code: 'FILE_TOO_LARGE', message: `The file is larger than the limit of ${MAX_FILE_SIZE} bytes`, field: ['input', 'url'] };
    expect((await importFromUrl(client, { url: `${files.origin}/exports/too-large.csv`, kind: 'EVENTS' })).userErrors).toEqual([tooLarge]);
    expect((await importFromUrl(client, { url: `${files.origin}/endless.csv`, kind: 'EVENTS' })).userErrors).toEqual([tooLarge]);
    // The download was broken off near the limit, not read to its end.
    await expect.poll(() => endless.closed).toBe(true);
    expect(endless.finished).toBe(false);
    // Socket and stream buffers (1 MiB in the spool) let a few MB more through before the cut is felt.
    expect(endless.sent).toBeLessThan(16 * 1024 * 1024);
    expect(await spoolFiles(t.dataDir)).toEqual([]);
    expect(await jobCount(client)).toBe(0);
  });

  it('gives up on a source that stops sending', async () => {
    const client = await clientFor('https-stall');
    const stalled = await importFromUrl(client, { url: `${files.origin}/stall.csv`, kind: 'EVENTS' });
    expect(stalled).toEqual({ job: null, userErrors: [{ code: 'INVALID_INPUT', message: `Downloading ${files.origin}/stall.csv failed: the source sent no data for ${TIMEOUT_MS / 1000} s`, field: ['input', 'url'] }] });
    expect(await spoolFiles(t.dataDir)).toEqual([]);
  });

  it('gives up on a source that sends a row now and then but never the end, at SOURCE_DEADLINE_MS', async () => {
    const client = await clientFor('https-drip');
    const started = Date.now();
    const dripped = await importFromUrl(client, { url: `${files.origin}/drip.csv`, kind: 'EVENTS' });
    expect(dripped).toEqual({ job: null, userErrors: [{ code: 'INVALID_INPUT', message: `Downloading ${files.origin}/drip.csv failed: the source had not sent the whole file after ${DEADLINE_MS / 1000} s`, field: ['input', 'url'] }] });
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS + 2000);
    expect(await spoolFiles(t.dataDir)).toEqual([]);
  });

  it('refuses a second import at once while the tenant\'s first file is still downloading, without fetching it', async () => {
    const client = await clientFor('https-one-at-a-time');
    const stalls = counted.stalls;
    const first = importFromUrl(client, { url: `${files.origin}/stall.csv`, kind: 'EVENTS' });
    await expect.poll(() => counted.stalls).toBe(stalls + 1);
    const gets = counted.gets;
    const second = await importFromUrl(client, { url: `${files.origin}/counted.csv`, kind: 'EVENTS' });
    expect(second.job).toBeNull();
    expect(second.userErrors[0]).toMatchObject({ code: 'IMPORT_IN_PROGRESS' });
    expect(counted.gets).toBe(gets);
    expect((await first).userErrors[0].message).toContain('the source sent no data');
    // Once the first has given up, the tenant may import again.
    expect((await importFromUrl(client, { url: `${files.origin}/counted.csv`, kind: 'EVENTS' })).userErrors).toEqual([]);
    expect(counted.gets).toBe(gets + 1);
  });

  it('keeps nothing of a presigned URL but its file name', async () => {
    const client = await clientFor('https-presigned');
    const { job } = await importFromUrl(client, { url: `${files.origin}/exports/presigned.csv?X-Amz-Credential=AKID%2F20240101&X-Amz-Signature=${PRESIGNED_SIGNATURE}`, kind: 'EVENTS' });
    expect(job).toMatchObject({ status: 'QUEUED', filename: 'presigned.csv' });
    await waitForJob(client, job!.id);
    const rows = await t.app.db.query<{ row: string }>('select row_to_json(j)::text as row from import_jobs j');
    expect(rows.length).toBeGreaterThan(0);
    for (const { row } of rows) expect(row).not.toContain(PRESIGNED_SIGNATURE);
  });
});

describe('importFromUrl from S3', () => {
  const credentials = () => ({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, region: 'eu-central-1', endpoint: s3.origin });

  it('reads the object with the tenant\'s credentials (SigV4, checked by the server) and imports its rows', async () => {
    const client = await clientFor('s3-happy');
    const before = s3.verified;
    const result = await importFromUrl(client, { url: 's3://imports/2024/events.csv', kind: 'EVENTS', s3: credentials() });
    expect(result.userErrors).toEqual([]);
    expect(result.job).toMatchObject({ status: 'QUEUED', format: 'CSV', filename: 'events.csv', fileSize: Buffer.byteLength(S3_EVENTS) });
    expect(s3.verified).toBeGreaterThan(before);
    expect(await waitForJob(client, result.job!.id)).toMatchObject({ status: 'COMPLETED', rowsImported: 12, rowsFailed: 0 });
  });

  it('answers a wrong secret or an unknown key with the S3 error code, on the s3 field', async () => {
    const client = await clientFor('s3-wrong');
    const wrongSecret = `${SECRET}x`;
    const bad = await importFromUrl(client, { url: 's3://imports/2024/events.csv', kind: 'EVENTS', s3: { ...credentials(), secretAccessKey: wrongSecret } });
    expect(bad).toEqual({ job: null, userErrors: [{
      code: 'INVALID_INPUT',
      message: 'S3 refused to read s3://imports/2024/events.csv: SignatureDoesNotMatch (HTTP 403): The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      field: ['input', 's3'],
    }] });
    const unknown = await importFromUrl(client, { url: 's3://imports/2024/events.csv', kind: 'EVENTS', s3: { ...credentials(), accessKeyId: 'AKIDNOBODY' } });
    expect(unknown.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('InvalidAccessKeyId (HTTP 403)'), field: ['input', 's3'] }]);
    expect(await jobCount(client)).toBe(0);
  });

  it('answers a missing object or bucket with NoSuchKey / NoSuchBucket, on the url field', async () => {
    const client = await clientFor('s3-missing');
    const key = await importFromUrl(client, { url: 's3://imports/nope.csv', kind: 'EVENTS', s3: credentials() });
    expect(key.userErrors).toEqual([{ code: 'INVALID_INPUT', message: 'S3 refused to read s3://imports/nope.csv: NoSuchKey (HTTP 404): The specified key does not exist.', field: ['input', 'url'] }]);
    const bucket = await importFromUrl(client, { url: 's3://elsewhere/a.csv', kind: 'EVENTS', s3: credentials() });
    expect(bucket.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringContaining('NoSuchBucket (HTTP 404)'), field: ['input', 'url'] }]);
  });

  it('refuses an s3:// URL without credentials, credentials without an s3:// URL, a malformed s3 URL and an http endpoint', async () => {
    const client = await clientFor('s3-input');
    expect(await importFromUrl(client, { url: 's3://imports/2024/events.csv', kind: 'EVENTS' })).toEqual({ job: null, userErrors: [{
      code: 'INVALID_INPUT',
      message: 's3:// URLs need s3 credentials: accessKeyId and secretAccessKey (and region, or endpoint for S3-compatible stores)',
      field: ['input', 's3'],
    }] });
    expect((await importFromUrl(client, { url: `${files.origin}/exports/events.csv`, kind: 'EVENTS', s3: credentials() })).userErrors)
      .toEqual([{ code: 'INVALID_INPUT', message: 's3 credentials are only for s3:// URLs', field: ['input', 's3'] }]);
    for (const url of ['s3://', 's3://imports', 's3://imports/', 's3://No_Such_Bucket!/a.csv']) {
      expect((await importFromUrl(client, { url, kind: 'EVENTS', s3: credentials() })).userErrors, url)
        .toEqual([{ code: 'INVALID_INPUT', message: 'url must be s3://bucket/key, with a valid bucket name and an object key', field: ['input', 'url'] }]);
    }
    expect((await importFromUrl(client, { url: 's3://imports/2024/events.csv', kind: 'EVENTS', s3: { ...credentials(), endpoint: s3.origin.replace('https:', 'http:') } })).userErrors)
      .toEqual([{ code: 'INVALID_INPUT', message: 's3.endpoint must be an https:// URL', field: ['input', 's3', 'endpoint'] }]);
    expect(await jobCount(client)).toBe(0);
  });

  it('answers an endpoint that cannot be reached with a user error on s3.endpoint', async () => {
    const client = await clientFor('s3-unreachable');
    const closed = await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const result = await importFromUrl(client, { url: 's3://imports/2024/events.csv', kind: 'EVENTS', s3: { ...credentials(), endpoint: `https://127.0.0.1:${closed}` } });
    expect(result.userErrors).toEqual([{ code: 'INVALID_INPUT', message: expect.stringMatching(/^Could not reach S3 for s3:\/\/imports\/2024\/events\.csv: .*ECONNREFUSED/), field: ['input', 's3', 'endpoint'] }]);
  });

  it('refuses an object over the size limit with FILE_TOO_LARGE', async () => {
    const client = await clientFor('s3-large');
    const result = await importFromUrl(client, { url: 's3://imports/too-large.csv', kind: 'EVENTS', s3: credentials() });
    expect(result.userErrors).toEqual([{ code: 'FILE_TOO_LARGE', message: `The file is larger than the limit of ${MAX_FILE_SIZE} bytes`, field: ['input', 'url'] }]);
  });

  it('never shows, stores or logs the secret: not in any response, the jobs table or the logs', async () => {
    expect(s3Responses.length).toBeGreaterThan(5);
    for (const body of s3Responses) expect(body).not.toContain(SECRET);
    const rows = await t.app.db.query<{ row: string }>('select row_to_json(j)::text as row from import_jobs j');
    expect(rows.length).toBeGreaterThan(0);
    for (const { row } of rows) expect(row).not.toContain(SECRET);
    expect(logs.text()).toContain('job completed'); // the logs were captured, at debug level
    expect(logs.text()).not.toContain(SECRET);
    expect(logs.text()).not.toContain(PRESIGNED_SIGNATURE);
  });
});

describe('source rules, with the default settings', () => {
  const defaults: SourceSettings = { allowInsecure: false, allowPrivate: false, timeoutMs: TIMEOUT_MS, deadlineMs: DEADLINE_MS, maxBytes: MAX_FILE_SIZE };

  it('accepts https:// and s3:// URLs to public hosts, and plain http:// only when allowed', () => {
    expect(parseSource({ url: 'https://exports.example.com/2024/Events%20May.csv?sig=1' }, defaults)).toMatchObject({ ok: true, value: { scheme: 'https', filename: 'Events May.csv' } });
    expect(parseSource({ url: 's3://my-bucket/2024 exports/a.ndjson', s3: { accessKeyId: 'a', secretAccessKey: 'b' } }, defaults))
      .toMatchObject({ ok: true, value: { scheme: 's3', bucket: 'my-bucket', key: '2024 exports/a.ndjson', filename: 'a.ndjson' } });
    expect(parseSource({ url: 'http://exports.example.com/a.csv' }, defaults)).toMatchObject({ ok: false, field: ['input', 'url'] });
    expect(parseSource({ url: 'http://exports.example.com/a.csv' }, { ...defaults, allowInsecure: true })).toMatchObject({ ok: true });
  });

  it('refuses loopback, private and link-local addresses, also as an S3 endpoint', () => {
    for (const url of ['https://127.0.0.1/a.csv', 'https://10.1.2.3/a.csv', 'https://169.254.169.254/latest/meta-data', 'https://[::1]/a.csv', 'https://[::ffff:127.0.0.1]/a.csv', 'https://[fd00::1]/a.csv', 'https://0.0.0.0/a.csv']) {
      const result = parseSource({ url }, defaults);
      expect(result, url).toMatchObject({ ok: false, code: 'INVALID_INPUT', field: ['input', 'url'], message: expect.stringContaining('loopback or private address') });
    }
    expect(parseSource({ url: 's3://b1b/k', s3: { accessKeyId: 'a', secretAccessKey: 'b', endpoint: 'https://192.168.1.20:9000' } }, defaults))
      .toMatchObject({ ok: false, field: ['input', 's3', 'endpoint'] });
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
    expect(isPrivateAddress('::ffff:10.0.0.1')).toBe(true);
  });

  it('refuses IPv6 forms that carry an IPv4 address or are not routed publicly, and documentation ranges', () => {
    // IPv4-compatible (::127.0.0.1), local-use NAT64 (RFC 8215: reaches the IPv4 network behind a
    // local translator), 6to4 (2002:ac10:1:: carries 172.16.0.1), discard-only, documentation.
    for (const url of ['https://[::127.0.0.1]/a.csv', 'https://[::a00:1]/a.csv', 'https://[64:ff9b:1::a00:1]/a.csv', 'https://[2002:ac10:1::1]/a.csv',
      'https://[100::1]/a.csv', 'https://[2001:db8::1]/a.csv', 'https://192.0.2.1/a.csv', 'https://198.51.100.7/a.csv', 'https://203.0.113.9/a.csv',
      // IPv4-translated (SIIT, ::ffff:0:0:0/96: ::ffff:0:7f00:1 carries 127.0.0.1) and site-local (fec0::/10, deprecated, still routed inside old networks).
      'https://[::ffff:0:7f00:1]/a.csv', 'https://[::ffff:0:a9fe:a9fe]/a.csv', 'https://[fec0::1]/a.csv']) {
      const result = parseSource({ url }, defaults);
      expect(result, url).toMatchObject({ ok: false, code: 'INVALID_INPUT', field: ['input', 'url'], message: expect.stringContaining('loopback or private address') });
    }
    expect(isPrivateAddress('2001:4860:4860::8888')).toBe(false);
    expect(isPrivateAddress('64:ff9b::808:808')).toBe(true); // unchanged: the well-known NAT64 prefix stays refused
  });

  it('refuses a host name that resolves to a loopback address, where it connects', async () => {
    const parsed = parseSource({ url: `${files.origin.replace('127.0.0.1', 'localhost')}/exports/events.csv` }, defaults);
    if (!parsed.ok) throw new Error(parsed.message);
    const opened = await openSource(parsed.value, { ...defaults, caFile: certificate.certFile });
    expect(opened).toMatchObject({ ok: false, code: 'INVALID_INPUT', message: expect.stringMatching(/localhost resolves to a loopback or private address/) });
  });

  it('gives up on a host name whose lookup never answers at SOURCE_TIMEOUT_MS, saying it did not resolve', async () => {
    // A real lookup that never answers: getaddrinfo runs on libuv's threadpool, and here every
    // thread of it is taken by an open() of a FIFO that no one writes to, so the lookup waits in
    // the queue until the FIFOs are opened for writing below. (Through the server this cannot be
    // shown: its database connections need the same threads.)
    const threads = Number(process.env.UV_THREADPOOL_SIZE) || 4;
    const fifos = Array.from({ length: threads }, (_, i) => path.join(dir, `block-${i}.fifo`));
    for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
    const blocked = fifos.map((fifo) => fs.open(fifo, 'r'));
    try {
      const url = `${files.origin.replace('127.0.0.1', 'localhost')}/exports/events.csv`;
      const parsed = parseSource({ url }, defaults);
      if (!parsed.ok) throw new Error(parsed.message);
      const started = Date.now();
      const opened = await openSource(parsed.value, { ...defaults, caFile: certificate.certFile });
      expect(opened).toEqual({ ok: false, code: 'INVALID_INPUT', message: `Could not fetch ${url}: localhost did not resolve within ${TIMEOUT_MS / 1000} s`, field: ['input', 'url'] });
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1000);
    } finally {
      for (const fifo of fifos) closeSync(openSync(fifo, 'w'));
      for (const handle of await Promise.all(blocked)) await handle.close();
    }
  });

  it('fetches plain http when ALLOW_INSECURE_SOURCE_URLS is on', async () => {
    const server = http.createServer((_req, res) => res.end(EVENTS));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const settings = { ...defaults, allowInsecure: true, allowPrivate: true };
      const parsed = parseSource({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events.csv` }, settings);
      if (!parsed.ok) throw new Error(parsed.message);
      const opened = await openSource(parsed.value, settings);
      if (!opened.ok) throw new Error(opened.message);
      expect(await text(opened.stream)).toBe(EVENTS);
    } finally {
      server.close();
    }
  });
});
