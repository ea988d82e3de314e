/**
 * No bytes sent to the upload endpoint end the server: every malformed multipart body gets a
 * 4xx (or, when it is still well-formed, its normal answer) within a few seconds, and the server
 * goes on serving. The server runs as a child process (as in production, NODE_ENV=production),
 * so that a crash shows as a dead process instead of taking the test runner down.
 *
 * First each known class of malformed body, then several thousand random damages to well-formed
 * ones (fast-check), each followed by /healthz. Afterwards: no upload slot still held, no file
 * left in the spool, nothing logged as unexpected.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, databaseEnv, requirePostgres, sessionUrl, type TestDatabase } from './support/database.js';
import { createKeyIn, openSql, type Sql } from './support/importIntegrity.js';
import {
  BOUNDARY, closing, fileHead, part, sendMultipart, sendRawHttp, startUpload, uploadHead, uploadMap, uploadOperations,
  type MultipartAnswer,
} from './support/multipart.js';
import { damagedBody, damagedRequest, piecesOf } from './support/multipartFuzz.js';
import { startServerChild, stopAllServerChildren, type ServerChild } from './support/serverProcess.js';
import { eventsCsv, manyEvents } from './support/events.js';

const enabled = requirePostgres('upload crash tests (a server child process on its own database)');
const ANSWER_WITHIN_MS = 10_000;

let db: TestDatabase;
let sql: Sql;
let dataDir: string;
let server: ServerChild;
let key: string;

beforeAll(async () => {
  if (!enabled) return;
  db = await createTestDatabase();
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulk-import-upload-crash-'));
  server = await startServerChild({
    label: 'upload-crash',
    env: {
      ...databaseEnv(db), DATA_DIR: dataDir, NODE_ENV: 'production', LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '0',
      MAX_FILE_SIZE: '1000000',
      // Damaged bodies that stay well-formed may queue jobs (no workers: they stay queued), and
      // the fuzz sends several at once: the tenant's limits must not refuse them before their bodies are read.
      MAX_ACTIVE_JOBS_PER_TENANT: '1000000', MAX_CONCURRENT_UPLOADS_PER_TENANT: '1000',
    },
  });
  sql = openSql(sessionUrl(db));
  key = await createKeyIn(sql, 'crash');
}, 120_000);

afterAll(async () => {
  await stopAllServerChildren();
  await sql?.end();
  await db?.drop();
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

afterEach(() => {
  expect(server?.exitInfo() ?? null, `the server died; its output:\n${server?.output().slice(-4000)}`).toBeNull();
});

async function expectServing(): Promise<void> {
  expect(server.exitInfo(), `the server died; its output:\n${server.output().slice(-4000)}`).toBeNull();
  const res = await fetch(`http://127.0.0.1:${server.port}/healthz`, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
}

const reservations = async () => Number((await sql`select count(*) as n from upload_reservations`)[0].n);
const jobs = async () => Number((await sql`select count(*) as n from import_jobs`)[0].n);

async function spoolLeftovers(): Promise<string[]> {
  const names = await fs.readdir(path.join(dataDir, 'spool')).catch(() => [] as string[]);
  const kept = new Set((await sql<{ spool_path: string }[]>`select spool_path from import_jobs`).map((r) => path.basename(r.spool_path)));
  return names.filter((name) => !kept.has(name) && !name.startsWith('spare-'));
}

async function settled<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const send = (pieces: (string | Buffer)[], opts: { contentType?: string; chunked?: boolean; key?: string | null; agent?: http.Agent } = {}) =>
  sendMultipart(server.url, { key: opts.key === undefined ? key : opts.key, pieces, timeoutMs: ANSWER_WITHIN_MS, ...opts });

const CSV = eventsCsv(manyEvents(3));
const opsPart = part('operations', uploadOperations());
const queryPart = part('operations', JSON.stringify({ query: '{ __typename }' }));
const head = (lines: string) => `--${BOUNDARY}\r\n${lines}\r\n\r\n`;

interface Case { name: string; pieces: (string | Buffer)[]; contentType?: string; chunked?: boolean; key?: string | null; status?: number }

/** Each class of malformed body found so far, and their neighbours: each must be that request's 4xx (or the status given). */
const MALFORMED: Case[] = [
  { name: 'a part header line without a colon (the body that crashed the server)', pieces: [queryPart + part('map', '{}') + head('bogus header line') + 'x\r\n' + closing()] },
  { name: 'a part header line without a colon after the file', pieces: [uploadHead() + CSV + '\r\n' + head('bogus header line') + 'x\r\n' + closing()] },
  { name: 'two malformed part headers in a row', pieces: [queryPart + part('map', '{}') + head('bogus') + 'x\r\n' + head('bogus again') + 'y\r\n' + closing()] },
  { name: 'a part header line without a colon before the operations', pieces: [head('bogus header line') + 'x\r\n' + opsPart + part('map', uploadMap) + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()] },
  { name: 'a NUL byte in a file name', pieces: [opsPart + part('map', uploadMap) + fileHead('0', 'a\0b.csv') + CSV + '\r\n' + closing()] },
  { name: 'a control byte in a file name', pieces: [opsPart + part('map', uploadMap) + fileHead('0', 'a\x01\x1bb.csv') + CSV + '\r\n' + closing()] },
  { name: 'a DEL byte in a file name', pieces: [opsPart + part('map', uploadMap) + fileHead('0', 'a\x7fb.csv') + CSV + '\r\n' + closing()] },
  { name: 'a NUL byte in a part name', pieces: [part('oper\0ations', uploadOperations()) + part('map', uploadMap) + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()] },
  { name: 'a part header over 16 KiB', pieces: [opsPart + part('map', uploadMap) + head(`Content-Disposition: form-data; name="0"; filename="${'a'.repeat(17_000)}.csv"`) + CSV + '\r\n' + closing()] },
  { name: 'a part header of many lines over 16 KiB', pieces: [queryPart + part('map', '{}') + head(Array.from({ length: 3000 }, (_, i) => `X-H${i}: v`).join('\r\n')) + 'x\r\n' + closing()] },
  { name: 'a file name in broken RFC 5987 encoding', pieces: [opsPart + part('map', uploadMap) + head('Content-Disposition: form-data; name="0"; filename*=utf-8\'\'%ZZ%') + CSV + '\r\n' + closing()] },
  { name: 'an unterminated quote in a part name', pieces: [head('Content-Disposition: form-data; name="operations') + uploadOperations() + '\r\n' + part('map', uploadMap) + closing()] },
  { name: 'a body cut in the middle of the file', pieces: [uploadHead() + CSV.slice(0, 40)] },
  { name: 'a body cut in the middle of a part header', pieces: [opsPart + part('map', uploadMap) + fileHead('0', 'a.csv').slice(0, 50)] },
  { name: 'a body cut in the middle of the operations', pieces: [opsPart.slice(0, 80)] },
  { name: 'a body without its final boundary', pieces: [uploadHead() + CSV + '\r\n'] },
  { name: 'a final boundary without its dashes', pieces: [uploadHead() + CSV + `\r\n--${BOUNDARY}\r\n`] },
  { name: 'a body under another boundary', pieces: [uploadHead() + CSV + '\r\n' + closing()], contentType: 'multipart/form-data; boundary=notTheOneUsed' },
  { name: 'an empty boundary', pieces: [uploadHead() + CSV + '\r\n' + closing()], contentType: 'multipart/form-data; boundary=' },
  { name: 'a boundary of 200 characters', pieces: [uploadHead() + CSV + '\r\n' + closing()], contentType: `multipart/form-data; boundary=${'b'.repeat(200)}` },
  { name: 'no boundary at all', pieces: [uploadHead() + CSV + '\r\n' + closing()], contentType: 'multipart/form-data' },
  { name: 'an empty body', pieces: [''] },
  { name: 'a map naming two files', pieces: [opsPart + part('map', JSON.stringify({ 0: ['variables.input.file'], 1: ['variables.input.file'] })) + fileHead('0', 'a.csv') + CSV + '\r\n' + fileHead('1', 'b.csv') + CSV + '\r\n' + closing()], status: 413 },
  { name: 'a map naming a file the body does not have', pieces: [opsPart + part('map', JSON.stringify({ 7: ['variables.input.file'] })) + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()] },
  { name: 'a map naming a file, and no file', pieces: [opsPart + part('map', uploadMap) + closing()] },
  { name: 'a map path into the prototype', pieces: [opsPart + part('map', JSON.stringify({ 0: ['constructor.prototype.polluted'] })) + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()] },
  { name: 'a map entry that is not a list', pieces: [opsPart + part('map', JSON.stringify({ 0: 'variables.input.file' })) + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()] },
  { name: 'the file part before the operations', pieces: [fileHead('0', 'a.csv') + CSV + '\r\n' + opsPart + part('map', uploadMap) + closing()] },
  { name: 'the file part between the operations and the map', pieces: [opsPart + fileHead('0', 'a.csv') + CSV + '\r\n' + part('map', uploadMap) + closing()] },
  { name: 'the map before the operations', pieces: [part('map', uploadMap) + opsPart + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()] },
  { name: 'the operations twice', pieces: [opsPart + opsPart + part('map', uploadMap) + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()] },
  { name: 'a second file part', pieces: [uploadHead() + CSV + '\r\n' + fileHead('1', 'b.csv') + CSV + '\r\n' + closing()], status: 413 },
  { name: 'thousands of small parts', pieces: [opsPart + part('map', uploadMap) + Array.from({ length: 5000 }, (_, i) => part(`f${i}`, 'v')).join('') + closing()], status: 413 },
  { name: 'an operations part over 1 MiB', pieces: [part('operations', JSON.stringify({ query: '{ __typename }', pad: 'p'.repeat(1_100_000) })) + part('map', '{}') + closing()], status: 413 },
  { name: 'operations that are not JSON', pieces: [part('operations', '{"query":') + part('map', '{}') + closing()] },
  { name: 'a map that is not JSON', pieces: [opsPart + part('map', '{"0":[') + closing()] },
  { name: 'the file sent under a part without a disposition', pieces: [opsPart + part('map', uploadMap) + head('Content-Type: text/csv') + CSV + '\r\n' + closing()] },
  { name: 'one file feeding two uploadImport fields', pieces: [part('operations', JSON.stringify({
    query: 'mutation ($i: UploadImportInput!) { a: uploadImport(input: $i) { job { id } } b: uploadImport(input: $i) { job { id } } }',
    variables: { i: { kind: 'EVENTS', file: null } },
  })) + part('map', JSON.stringify({ 0: ['variables.i.file'] })) + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()], status: 200 /* a validation error, as Yoga answers them */ },
  { name: 'a malformed body without a key', pieces: [queryPart + part('map', '{}') + head('bogus header line') + 'x\r\n' + closing()], key: null, status: 401 },
  { name: 'a malformed body with a wrong key', pieces: [queryPart + part('map', '{}') + head('bogus header line') + 'x\r\n' + closing()], key: 'bik_not_a_key', status: 401 },
  { name: 'a malformed body sent chunked', pieces: [queryPart, part('map', '{}'), head('bogus'), 'x\r\n', closing()], chunked: true },
];

/** Damaged in ways that leave them well-formed: their normal answer. */
const WELL_FORMED: Case[] = [
  { name: 'the same map entry twice in the map text (JSON keeps the last)', pieces: [opsPart.replace('"EVENTS"', '"EVENTS","dryRun":true') + part('map', '{"0":["variables.input.file"],"0":["variables.input.file"]}') + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()], status: 200 },
  { name: 'one place named twice in one map entry', pieces: [opsPart.replace('"EVENTS"', '"EVENTS","dryRun":true') + part('map', JSON.stringify({ 0: ['variables.input.file', 'variables.input.file'] })) + fileHead('0', 'a.csv') + CSV + '\r\n' + closing()], status: 200 },
  { name: 'bytes after the final boundary', pieces: [queryPart + part('map', '{}') + closing() + 'epilogue \0 bytes --'], status: 200 },
  { name: 'a preamble before the first boundary', pieces: ['preamble\r\n' + queryPart + part('map', '{}') + closing()], status: 200 },
];

describe.runIf(enabled)('malformed multipart bodies (server in a child process)', () => {
  for (const c of MALFORMED) {
    it(`refuses ${c.name} (${c.status ?? '4xx'}) and goes on serving`, async () => {
      const answer: MultipartAnswer = await send(c.pieces, c);
      if (c.status) {
        expect(answer.status, answer.text).toBe(c.status);
      } else {
        expect(answer.status, answer.text).toBeGreaterThanOrEqual(400);
        expect(answer.status, answer.text).toBeLessThan(500);
      }
      expect(answer.json?.errors?.length, answer.text).toBeGreaterThan(0);
      expect(answer.json?.data ?? null, answer.text).toBeNull();
      expect(answer.text).not.toMatch(/unexpected error/i);
      await expectServing();
    });
  }

  for (const c of WELL_FORMED) {
    it(`answers ${c.name} as usual`, async () => {
      const answer = await send(c.pieces, c);
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json?.errors, answer.text).toBeUndefined();
      await expectServing();
    });
  }

  it('goes on serving after bodies broken at the HTTP level: a bad chunked encoding, a body shorter than its length', async () => {
    const headers = (extra: string) => `POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n${extra}\r\n`;
    const body = uploadHead() + CSV + '\r\n' + closing();
    const badChunk = await sendRawHttp(server.port, Buffer.from(`${headers('Transfer-Encoding: chunked\r\n')}zz\r\n${body}\r\n0\r\n\r\n`));
    expect(badChunk).toBe(400);
    // The client says it has no more to send: the server cannot answer what never came, but lives on.
    await sendRawHttp(server.port, Buffer.from(`${headers(`Content-Length: ${body.length + 500}\r\n`)}${body}`), { halfClose: true });
    await expectServing();
  });

  it('goes on serving after clients that disconnect mid-file, mid-header and right after the map, and frees what they held', async () => {
    const cuts = [
      [uploadHead() + CSV.slice(0, 100)],
      [opsPart + part('map', uploadMap) + fileHead('0', 'a.csv').slice(0, 30)],
      [opsPart + part('map', uploadMap)],
      [uploadHead('cut\0name.csv') + CSV],
    ];
    for (const pieces of cuts) {
      const req = startUpload(server.url, key, pieces);
      await new Promise((r) => setTimeout(r, 100));
      req.destroy();
      await expectServing();
    }
    expect(await settled(reservations, (n) => n === 0)).toBe(0);
    expect(await settled(spoolLeftovers, (files) => files.length === 0)).toEqual([]);
  });
});

describe.runIf(enabled)('random damage to well-formed multipart bodies (fast-check)', () => {
  it('answers every one with a 4xx or its normal answer, within seconds, and /healthz answers after each', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const jobsBefore = await jobs();
    const statuses = new Map<number, number>();
    const started = Date.now();
    try {
      await fc.assert(fc.asyncProperty(fc.array(damagedRequest, { minLength: 8, maxLength: 8 }), async (batch) => {
        // Several at once, as a client with many connections would send them.
        await Promise.all(batch.map(async (request) => {
          const body = damagedBody(request);
          const answer = await send(piecesOf(request, body), { chunked: request.chunkedAt !== null, agent });
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          expect(answer.status, answer.text).toBeGreaterThanOrEqual(200);
          expect(answer.status, answer.text).toBeLessThan(500);
          expect(answer.text).not.toMatch(/unexpected error/i);
        }));
        await expectServing();
      }), { numRuns: 375, interruptAfterTimeLimit: 35_000 });
    } finally {
      agent.destroy();
    }
    const sent = [...statuses.values()].reduce((a, b) => a + b, 0);
    console.log(`fuzz: ${sent} damaged bodies in ${Date.now() - started} ms, answers by status: ${JSON.stringify(Object.fromEntries(statuses))}`);
    // 3,000 when the machine is not busy with much else; at least this many in the time allowed.
    expect(sent).toBeGreaterThanOrEqual(1000);
    // Most damage makes a body malformed: that must be what was tried, not only bodies answered 401 or 200.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(sent / 4);

    expect(await settled(reservations, (n) => n === 0)).toBe(0);
    expect(await settled(spoolLeftovers, (files) => files.length === 0)).toEqual([]);
    // The seeds' files are refused once read (their columns are not EVENTS'): damage rarely makes one importable.
    expect((await jobs()) - jobsBefore).toBeLessThan(sent / 100);
    const alarming = server.logs().filter((line) => Number(line.level) >= 50);
    expect(alarming.map((line) => line.msg)).toEqual([]);
  }, 90_000);
});
