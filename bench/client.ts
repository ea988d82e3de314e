/**
 * What the benchmark does as a client of the service, through its public interfaces only: the
 * CLI for a key, multipart over HTTP for the upload, graphql-ws for progress, JSON over HTTP for
 * the `jobs` query.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { REPO_ROOT, tsxArgs } from './serverProcess.js';

/**
 * `bulk-import keys create`, which prints the key alone on stdout. Against Postgres it writes the
 * key itself; in embedded mode it hands the key to the running server through its key inbox.
 */
export async function createApiKey(env: NodeJS.ProcessEnv, tenant: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, tsxArgs('src/cli/index.ts', 'keys', 'create', '--tenant', tenant), {
    cwd: REPO_ROOT,
    env,
    timeout: 60_000,
  });
  const key = stdout.trim();
  if (!key || /\s/.test(key)) throw new Error(`keys create printed something other than a key: ${JSON.stringify(stdout)}`);
  return key;
}

const UPLOAD = `mutation UploadImport($input: UploadImportInput!) {
  uploadImport(input: $input) { job { id status } userErrors { code message } }
}`;

export interface UploadResult { jobId: string; status: string; seconds: number }

/**
 * A GraphQL multipart request (operations, map, then the file) whose file part is streamed from
 * disk: only the few hundred bytes around the file are built in memory. The length is known in
 * advance, so the request carries a Content-Length rather than chunked encoding.
 */
export async function uploadFile(opts: { url: string; key: string; file: string; contentType: string; kind: string }): Promise<UploadResult> {
  const started = performance.now();
  const boundary = `----bulk-import-bench-${Date.now().toString(16)}`;
  const operations = JSON.stringify({ query: UPLOAD, variables: { input: { file: null, kind: opts.kind } } });
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = Buffer.from(
    field('operations', operations) + field('map', JSON.stringify({ 0: ['variables.input.file'] }))
    + `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${path.basename(opts.file)}"\r\n`
    + `Content-Type: ${opts.contentType}\r\n\r\n`,
  );
  const foot = Buffer.from(`\r\n--${boundary}--\r\n`);
  const fileSize = fs.statSync(opts.file).size;

  async function* body() {
    yield head;
    yield* fs.createReadStream(opts.file, { highWaterMark: 1 << 20 });
    yield foot;
  }

  const req = http.request(opts.url, {
    method: 'POST',
    agent: false,
    headers: {
      authorization: `Bearer ${opts.key}`,
      'content-type': `multipart/form-data; boundary=${boundary}`,
      'content-length': String(head.length + fileSize + foot.length),
    },
  });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  const source = Readable.from(body());
  // A server that refuses the upload may answer before reading it all; the answer is what counts.
  const sent = pipeline(source, req).then(() => null, (err: Error) => err);
  const res = await response;
  let text = '';
  for await (const chunk of res) text += chunk;
  source.destroy();
  const sendError = await sent;

  let payload: { data?: { uploadImport?: { job: { id: string; status: string } | null; userErrors: { code: string; message: string }[] } }; errors?: { message: string }[] };
  try {
    payload = JSON.parse(text);
  } catch {
    throw new Error(`upload: HTTP ${res.statusCode}, not JSON: ${text.slice(0, 500)}${sendError ? ` (send: ${sendError.message})` : ''}`);
  }
  const result = payload.data?.uploadImport;
  if (res.statusCode !== 200 || payload.errors?.length || !result?.job) {
    const why = payload.errors?.map((e) => e.message).join('; ')
      || result?.userErrors.map((e) => `${e.code}: ${e.message}`).join('; ')
      || text.slice(0, 500);
    throw new Error(`upload of ${path.basename(opts.file)} refused (HTTP ${res.statusCode}): ${why}`);
  }
  return { jobId: result.job.id, status: result.job.status, seconds: (performance.now() - started) / 1000 };
}

const JOB_PROGRESS = `subscription JobProgress($id: ID!) {
  jobProgress(id: $id) { id status rowsProcessed rowsImported rowsFailed rowsDuplicate percentComplete insertRate failureReason }
}`;

export interface JobSnapshot {
  id: string;
  status: string;
  rowsProcessed: number;
  rowsImported: number;
  rowsFailed: number;
  rowsDuplicate: number;
  percentComplete: number;
  insertRate: number | null;
  failureReason: string | null;
}

export interface FollowResult { final: JobSnapshot; events: number; maxGapMs: number }

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/**
 * Follows `jobProgress` until the server completes the subscription (after the terminal state).
 * Counts the events and the longest silence between two of them: what a user watching a progress
 * bar would see as a stall.
 */
export function followJob(opts: { wsUrl: string; key: string; jobId: string; timeoutMs: number }): Promise<FollowResult> {
  const client = createClient({
    url: opts.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { authorization: `Bearer ${opts.key}` },
  });
  let events = 0;
  let maxGapMs = 0;
  let last: number | null = null;
  let final: JobSnapshot | null = null;
  let timer: NodeJS.Timeout | undefined;

  return new Promise<FollowResult>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`job ${opts.jobId} did not finish within ${opts.timeoutMs} ms (last: ${JSON.stringify(final)})`)), opts.timeoutMs);
    client.subscribe<{ jobProgress: JobSnapshot }>({ query: JOB_PROGRESS, variables: { id: opts.jobId } }, {
      next: (result) => {
        if (result.errors?.length) { reject(new Error(`jobProgress: ${result.errors.map((e) => e.message).join('; ')}`)); return; }
        const now = performance.now();
        if (last !== null) maxGapMs = Math.max(maxGapMs, now - last);
        last = now;
        events++;
        final = result.data!.jobProgress;
      },
      error: (err) => {
        const close = err as { code?: number; reason?: string };
        reject(close.code !== undefined ? new Error(`jobProgress: socket closed ${close.code} ${close.reason ?? ''}`) : err);
      },
      complete: () => {
        if (!final || !TERMINAL.has(final.status)) {
          reject(new Error(`jobProgress completed before a terminal state (last: ${JSON.stringify(final)})`));
        } else resolve({ final, events, maxGapMs });
      },
    });
  }).finally(() => {
    clearTimeout(timer);
    void client.dispose();
  });
}

const JOBS = 'query Jobs { jobs(first: 10) { totalCount edges { node { id status } } } }';

export interface PollerResult { latenciesMs: number[]; errors: number; firstError: string | null }

/**
 * Sends the `jobs` query every `intervalMs` while an import runs. Requests are fired on a fixed
 * schedule, not one after the other: a slow answer must not delay (and so hide) the next ones.
 * One untimed query goes first, so that a cold code path or a new connection is not counted as
 * the import's doing.
 */
export async function startJobsPoller(opts: { url: string; key: string; intervalMs: number }): Promise<{ stop(): Promise<PollerResult> }> {
  const latenciesMs: number[] = [];
  const inFlight = new Set<Promise<void>>();
  let errors = 0;
  let firstError: string | null = null;

  const query = async () => {
    const res = await fetch(opts.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: JOBS }),
    });
    const body = (await res.json()) as { data?: { jobs?: { totalCount: number } }; errors?: { message: string }[] };
    if (res.status !== 200 || body.errors?.length || typeof body.data?.jobs?.totalCount !== 'number') {
      throw new Error(`jobs query: HTTP ${res.status}: ${JSON.stringify(body.errors ?? body).slice(0, 300)}`);
    }
  };
  const once = async () => {
    const started = performance.now();
    try {
      await query();
      latenciesMs.push(performance.now() - started);
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
    }
  };

  await query();
  const timer = setInterval(() => {
    const p = once().finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, opts.intervalMs);

  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { latenciesMs, errors, firstError };
    },
  };
}

/** The uuid inside a Job's Relay global id (base64 of `Job:<uuid>`), to find its rows in the database. */
export function jobUuid(globalId: string): string {
  const [type, id] = Buffer.from(globalId, 'base64').toString('utf8').split(':');
  if (type !== 'Job' || !id) throw new Error(`not a Job id: ${globalId}`);
  return id;
}
