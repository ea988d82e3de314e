/**
 * What the benchmark does as a client of the service, through its public interfaces only: the
 * CLI for a key, multipart over HTTP for the upload, graphql-ws for progress, JSON over HTTP for
 * the `jobs` query.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { REPO_ROOT, tsxArgs } from './serverProcess.js';
import { BulkImportClient } from '../src/client/bulkImportClient.js';
import type { ImportKind } from '../src/generated/gql/graphql.js';

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

export interface UploadResult { jobId: string; status: string; seconds: number }

/**
 * The upload goes through the service's own client (src/client), which streams the file from disk
 * in a GraphQL multipart request: only the few hundred bytes around the file are built in memory.
 */
/** How a file reaches the service: one multipart request, or a staged upload (parts in parallel, then importStagedUpload). */
export type UploadMode = 'multipart' | 'staged';

export async function uploadFile(opts: { url: string; key: string; file: string; kind: string; allowDuplicateFile?: boolean; mode?: UploadMode }): Promise<UploadResult> {
  const started = performance.now();
  const client = new BulkImportClient({ url: opts.url, key: opts.key });
  const options = { kind: opts.kind as ImportKind, allowDuplicateFile: opts.allowDuplicateFile };
  const { job, userErrors } = opts.mode === 'staged' ? await client.uploadStaged(opts.file, options) : await client.upload(opts.file, options);
  if (!job) throw new Error(`upload of ${path.basename(opts.file)} refused: ${userErrors.map((e) => `${e.code}: ${e.message}`).join('; ')}`);
  return { jobId: job.id, status: job.status, seconds: (performance.now() - started) / 1000 };
}

/**
 * The upload as the README's curl example sends it: curl builds the multipart request, with its
 * own boundary and part headers, and streams the file. What a user with a standard client meets.
 */
export async function curlUpload(opts: { url: string; key: string; file: string; kind: string; allowDuplicateFile?: boolean }): Promise<UploadResult> {
  const started = performance.now();
  const input = `{file: $file, kind: ${opts.kind}${opts.allowDuplicateFile ? ', allowDuplicateFile: true' : ''}}`;
  const operations = JSON.stringify({
    query: `mutation($file: Upload!) { uploadImport(input: ${input}) { job { id status } userErrors { code message } } }`,
    variables: { file: null },
  });
  const { stdout } = await promisify(execFile)('curl', [
    '-sS', '--fail-with-body', opts.url, '-H', `Authorization: Bearer ${opts.key}`,
    '-F', `operations=${operations}`, '-F', 'map={"0":["variables.file"]}', '-F', `0=@${opts.file}`,
  ], { maxBuffer: 1024 * 1024 });
  const body = JSON.parse(stdout) as { data?: { uploadImport: { job: { id: string; status: string } | null; userErrors: { code: string; message: string }[] } }; errors?: unknown };
  const job = body.data?.uploadImport.job;
  if (!job) throw new Error(`curl upload of ${path.basename(opts.file)} refused: ${JSON.stringify(body.data?.uploadImport.userErrors ?? body.errors)}`);
  return { jobId: job.id, status: job.status, seconds: (performance.now() - started) / 1000 };
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

export interface PollerResult {
  latenciesMs: number[];
  /** When each query was sent, in ms from the poller's start (same order as latenciesMs). */
  sentAtMs: number[];
  errors: number;
  firstError: string | null;
}

/**
 * Sends the `jobs` query every `intervalMs` while an import runs. Requests are fired on a fixed
 * schedule, not one after the other: a slow answer must not delay (and so hide) the next ones.
 * One untimed query goes first, so that a cold code path or a new connection is not counted as
 * the import's doing.
 */
export async function startJobsPoller(opts: { url: string; key: string; intervalMs: number }): Promise<{ stop(): Promise<PollerResult> }> {
  const latenciesMs: number[] = [];
  const sentAtMs: number[] = [];
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
      sentAtMs.push(started - pollerStarted);
    } catch (err) {
      errors++;
      firstError ??= (err as Error).message;
    }
  };

  await query();
  const pollerStarted = performance.now();
  const timer = setInterval(() => {
    const p = once().finally(() => inFlight.delete(p));
    inFlight.add(p);
  }, opts.intervalMs);

  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return { latenciesMs, sentAtMs, errors, firstError };
    },
  };
}

/** The uuid inside a Job's Relay global id (base64 of `Job:<uuid>`), to find its rows in the database. */
export function jobUuid(globalId: string): string {
  const [type, id] = Buffer.from(globalId, 'base64').toString('utf8').split(':');
  if (type !== 'Job' || !id) throw new Error(`not a Job id: ${globalId}`);
  return id;
}
