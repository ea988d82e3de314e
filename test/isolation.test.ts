/**
 * Tenant isolation, tried at random: three tenants, each with finished jobs (some with row errors,
 * one FAILED) and one QUEUED job, and a property-based run of cross-tenant attempts through every
 * way to reach a job: job(id), node(id), jobs (filters, and cursors taken from another tenant's
 * pages), Job.errors (a foreign job, and a foreign error cursor on one's own job), errorReportUrl
 * and the report it points to, jobProgress over graphql-ws, and cancelJob. None may see or change
 * anything. Then API keys: never stored in clear, never logged, never in an answer, and a revoked
 * key stops working at once over HTTP and within seconds on an open WebSocket.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SecCancelJobDocument, SecJobDocument, SecJobErrorsDocument, SecJobProgressDocument, SecJobsDocument, SecNodeDocument,
  UploadImportDocument, type SecJobErrorsQuery, type SecJobQuery, type SecJobsQuery,
} from '../src/generated/gql/graphql.js';
import { createKey, revokeKey } from '../src/auth/apiKeys.js';
import { print } from 'graphql';
import { eventRow, eventsCsv, type EventRow } from './support/events.js';
import { jobUuid } from './support/jobs.js';
import { memoryLogger, startOwnApp, type OwnApp } from './support/ownApp.js';
import { postGraphql, RawGraphqlSocket, readResult, Transcript } from './support/rawGraphql.js';

type JobState = NonNullable<SecJobQuery['job']>;
type ErrorsPage = NonNullable<SecJobErrorsQuery['job']>['errors'];

const TENANTS = ['alpha', 'bravo', 'charlie'] as const;
const STATUSES = ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;

interface TenantData {
  name: string;
  key: string;
  /** Text that only this tenant's data holds: in its file names, row values and failed rows. */
  marker: string;
  /** Global ids, oldest first; the last one is QUEUED. */
  jobs: string[];
  queued: string;
  /** What the owner sees of each job before any attack: state, every row error, the report. */
  before: Map<string, { state: JobState; errors: ErrorsPage; report: string | null }>;
  /** Cursors of this tenant's `jobs` pages and of its jobs' error pages. */
  jobCursors: string[];
  errorCursors: string[];
}

const mem = memoryLogger('debug');
/** Every answer the server gave in this file (HTTP status, headers and body; WebSocket messages). */
const transcript = new Transcript();
const allKeys: string[] = [];
let t: OwnApp;
const tenants: TenantData[] = [];

const gql = <T,>(key: string | null, doc: Parameters<typeof postGraphql>[2], variables?: Record<string, unknown>, tr = transcript) =>
  postGraphql<T>(t.url, key, doc, variables, { transcript: tr });

async function upload(key: string, filename: string, content: string, input: Record<string, unknown> = {}): Promise<string> {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query: print(UploadImportDocument), variables: { input: { kind: 'EVENTS', ...input, file: null } } }));
  form.append('map', JSON.stringify({ 0: ['variables.input.file'] }));
  form.append('0', new Blob([content]), filename);
  const res = await readResult<{ uploadImport: { job: { id: string } | null; userErrors: unknown[] } }>(
    await fetch(t.url, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form }), transcript);
  expect(res.status, res.text).toBe(200);
  expect(res.json?.data?.uploadImport.userErrors, res.text).toEqual([]);
  return res.json!.data!.uploadImport.job!.id;
}

async function jobState(key: string, id: string): Promise<JobState | null> {
  const res = await gql<SecJobQuery>(key, SecJobDocument, { id });
  expect(res.json?.errors, res.text).toBeUndefined();
  return res.json!.data!.job ?? null;
}

async function waitForEnd(key: string, id: string): Promise<JobState> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const job = await jobState(key, id);
    if (job && ['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} did not end: ${JSON.stringify(job)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A file of `rows` rows whose rows in `bad` fail validation; every row carries the tenant's marker. */
function file(marker: string, job: string, rows: number, bad: number[]): string {
  const list: EventRow[] = Array.from({ length: rows }, (_, i) => eventRow(i, {
    user_id: `${marker}-user-${job}-${i}`,
    pathname: `/${marker}/${job}/${i}`,
    ...(bad.includes(i) ? { event_type: `${marker}-bogus-${job}-${i}` } : {}),
  }));
  return eventsCsv(list);
}

/** Everything the owner can see of one job. */
async function ownerView(tenant: TenantData, id: string) {
  const state = await jobState(tenant.key, id);
  expect(state).not.toBeNull();
  const res = await gql<SecJobErrorsQuery>(tenant.key, SecJobErrorsDocument, { id, first: 1000 });
  const errors = res.json!.data!.job!.errors;
  let report: string | null = null;
  if (state!.errorReportUrl) {
    const r = await readResult(await fetch(state!.errorReportUrl, { headers: { authorization: `Bearer ${tenant.key}` } }), transcript);
    expect(r.status).toBe(200);
    report = r.text;
  }
  return { state: state!, errors, report };
}

/** Import_jobs, job_errors and events per job straight from the database: the ground truth for "nothing changed". */
async function databaseState(): Promise<string> {
  const jobs = await t.app.db.query<{ row: string }>(
    `select row_to_json(j)::text as row from (
       select id, tenant_id, status, cancel_requested, rows_processed, rows_imported, rows_failed, rows_duplicate, rows_total,
         bytes_processed, checkpoint_offset, attempt, failure_reason, started_at, finished_at, spool_path
       from import_jobs order by seq) j`);
  const errors = await t.app.db.query<{ job_id: string; n: number }>('select job_id, count(*)::int as n from job_errors group by job_id order by job_id');
  const events = await t.app.db.query<{ job_id: string; n: number }>('select job_id, count(*)::int as n from events group by job_id order by job_id');
  return JSON.stringify({ jobs: jobs.map((r) => r.row), errors, events });
}

beforeAll(async () => {
  // Finished jobs need workers; the QUEUED ones must stay queued, so the second half runs without.
  t = await startOwnApp({ batchSize: 3 }, { log: mem.log });
  for (const name of TENANTS) {
    const key = await createKey(t.app.db, name);
    allKeys.push(key);
    tenants.push({ name, key, marker: `MARK${name}`, jobs: [], queued: '', before: new Map(), jobCursors: [], errorCursors: [] });
  }
  await Promise.all(tenants.map(async (tenant) => {
    const m = tenant.marker;
    // One at a time: a tenant has one active job at most.
    const withErrors = await upload(tenant.key, `${tenant.name}-secret-0.csv`, file(m, 'j0', 7, [1, 4]));
    expect(await waitForEnd(tenant.key, withErrors)).toMatchObject({ status: 'COMPLETED', rowsFailed: 2, rowsImported: 5 });
    const clean = await upload(tenant.key, `${tenant.name}-secret-1.csv`, file(m, 'j1', 4, []));
    expect(await waitForEnd(tenant.key, clean)).toMatchObject({ status: 'COMPLETED', rowsFailed: 0 });
    const failed = await upload(tenant.key, `${tenant.name}-secret-2.csv`, file(m, 'j2', 9, [0, 1, 2, 3]), { maxErrors: 1 });
    expect(await waitForEnd(tenant.key, failed)).toMatchObject({ status: 'FAILED' });
    tenant.jobs.push(withErrors, clean, failed);
  }));

  await t.restart({ workerConcurrency: 0 });
  for (const tenant of tenants) {
    tenant.queued = await upload(tenant.key, `${tenant.name}-secret-queued.csv`, file(tenant.marker, 'q', 3, [0]));
    tenant.jobs.push(tenant.queued);
  }
  for (const tenant of tenants) {
    for (const id of tenant.jobs) tenant.before.set(id, await ownerView(tenant, id));
    expect(tenant.before.get(tenant.queued)!.state.status).toBe('QUEUED');
    // Cursors from every page of the tenant's jobs, forwards and backwards, two at a time.
    for (const dir of ['forward', 'backward'] as const) {
      let cursor: string | null = null;
      for (let i = 0; i < 3; i++) {
        const res: Awaited<ReturnType<typeof gql<SecJobsQuery>>> = await gql<SecJobsQuery>(tenant.key, SecJobsDocument, dir === 'forward' ? { first: 2, after: cursor } : { last: 2, before: cursor });
        const jobs: SecJobsQuery['jobs'] = res.json!.data!.jobs;
        tenant.jobCursors.push(...jobs.edges.map((e) => e.cursor));
        cursor = dir === 'forward' ? jobs.pageInfo.endCursor ?? null : jobs.pageInfo.startCursor ?? null;
        if (!cursor) break;
      }
    }
    for (const { errors } of tenant.before.values()) tenant.errorCursors.push(...errors.edges.map((e) => e.cursor));
    expect(tenant.jobCursors.length).toBeGreaterThan(0);
    expect(tenant.errorCursors.length).toBeGreaterThan(0);
  }
}, 120_000);

afterAll(() => t?.close());

/** The ways a client might write a job's id. */
const ID_FORMS = {
  global: (id: string) => id,
  unpadded: (id: string) => id.replace(/=+$/, ''),
  upperUuid: (id: string) => Buffer.from(`Job:${jobUuid(id).toUpperCase()}`).toString('base64'),
  rawUuid: (id: string) => jobUuid(id),
} as const;

const ENTRY_POINTS = ['job', 'node', 'errors', 'foreignErrorCursor', 'jobs', 'report', 'progress', 'cancel'] as const;

const attempt = fc.record({
  attacker: fc.integer({ min: 0, max: 2 }),
  victimOffset: fc.integer({ min: 1, max: 2 }),
  job: fc.integer({ min: 0, max: 3 }),
  entry: fc.constantFrom(...ENTRY_POINTS),
  idForm: fc.constantFrom(...(Object.keys(ID_FORMS) as (keyof typeof ID_FORMS)[])),
  cursorPick: fc.nat(),
  pageSize: fc.integer({ min: 1, max: 5 }),
  backwards: fc.boolean(),
  statusFilter: fc.option(fc.subarray([...STATUSES]), { nil: undefined }),
  kindFilter: fc.option(fc.subarray(['EVENTS', 'USERS'] as const), { nil: undefined }),
});

type Attempt = typeof attempt extends fc.Arbitrary<infer T> ? T : never;

describe('tenant isolation', () => {
  it('no cross-tenant attempt through any entry point sees or changes another tenant\'s job', async () => {
    const dbBefore = await databaseState();
    const tried = new Map<string, number>();

    await fc.assert(fc.asyncProperty(attempt, async (a) => {
      const attacker = tenants[a.attacker];
      const victim = tenants[(a.attacker + a.victimOffset) % 3];
      const victimJob = victim.jobs[a.job];
      const id = ID_FORMS[a.idForm](victimJob);
      const seen = new Transcript();
      tried.set(a.entry, (tried.get(a.entry) ?? 0) + 1);

      switch (a.entry) {
        case 'job': {
          const res = await gql<SecJobQuery>(attacker.key, SecJobDocument, { id }, seen);
          expect(res.json?.data?.job ?? null).toBeNull();
          break;
        }
        case 'node': {
          const res = await gql<{ node: unknown }>(attacker.key, SecNodeDocument, { id }, seen);
          expect(res.json?.data?.node ?? null).toBeNull();
          break;
        }
        case 'errors': {
          const res = await gql<SecJobErrorsQuery>(attacker.key, SecJobErrorsDocument, { id, first: 100 }, seen);
          expect(res.json?.data?.job ?? null).toBeNull();
          break;
        }
        case 'foreignErrorCursor': {
          // The attacker's own job with row errors, paged from a cursor of the victim's errors.
          const own = attacker.jobs[0];
          const after = victim.errorCursors[a.cursorPick % victim.errorCursors.length];
          const res = await gql<SecJobErrorsQuery>(attacker.key, SecJobErrorsDocument, { id: own, first: a.pageSize, after }, seen);
          const ownErrors = attacker.before.get(own)!.errors.edges.map((e) => JSON.stringify(e.node));
          for (const edge of res.json?.data?.job?.errors.edges ?? []) expect(ownErrors).toContain(JSON.stringify(edge.node));
          break;
        }
        case 'jobs': {
          const cursor = victim.jobCursors[a.cursorPick % victim.jobCursors.length];
          const filter = a.statusFilter || a.kindFilter ? { status: a.statusFilter, kind: a.kindFilter } : undefined;
          const args = a.backwards ? { last: a.pageSize, before: cursor, filter } : { first: a.pageSize, after: cursor, filter };
          const res = await gql<SecJobsQuery>(attacker.key, SecJobsDocument, args, seen);
          expect(res.json?.errors, res.text).toBeUndefined();
          const { jobs } = res.json!.data!;
          for (const edge of jobs.edges) expect(attacker.jobs).toContain(edge.node.id);
          const mine = [...attacker.before.values()].filter(({ state }) =>
            (!a.statusFilter?.length || a.statusFilter.includes(state.status as never))
            && (!a.kindFilter?.length || a.kindFilter.includes(state.kind as never)));
          expect(jobs.totalCount).toBe(mine.length);
          break;
        }
        case 'report': {
          // The victim's own report link if it has one, else the link such a job would have.
          const link = victim.before.get(victimJob)!.state.errorReportUrl
            ?? `${t.url.replace(/\/graphql$/, '')}/jobs/${encodeURIComponent(victimJob)}/errors.csv`;
          const url = link.replace(encodeURIComponent(victimJob), encodeURIComponent(id));
          const res = await readResult(await fetch(url, { headers: { authorization: `Bearer ${attacker.key}` } }), seen);
          expect(res.status).toBe(404);
          // And the attacker's own report holds its own rows only (checked with every answer below).
          const own = await readResult(await fetch(attacker.before.get(attacker.jobs[0])!.state.errorReportUrl!, { headers: { authorization: `Bearer ${attacker.key}` } }), seen);
          expect(own.status).toBe(200);
          expect(own.text).toContain(attacker.marker);
          break;
        }
        case 'progress': {
          const socket = new RawGraphqlSocket(t.wsUrl, attacker.key, seen);
          try {
            await socket.ready();
            socket.subscribe('p', SecJobProgressDocument, { id });
            const messages = await socket.settled('p');
            for (const m of messages) expect(m.payload?.data?.jobProgress ?? null).toBeNull();
            expect(JSON.stringify(messages)).toMatch(/not found|invalid/i);
          } finally {
            socket.close();
          }
          break;
        }
        case 'cancel': {
          const res = await gql<{ cancelJob: { job: unknown; userErrors: { code: string }[] } }>(attacker.key, SecCancelJobDocument, { id }, seen);
          expect(res.json?.data?.cancelJob.job ?? null).toBeNull();
          expect(res.json?.data?.cancelJob.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
          break;
        }
      }

      // Whatever the entry point: nothing of another tenant in any answer (an error message may
      // echo the id the attacker sent, but never a name, a value or a row of the victim's).
      for (const other of tenants) {
        if (other === attacker) continue;
        expect(seen.find(other.marker), `${a.entry}: ${other.name}'s data in ${attacker.name}'s answer`).toEqual([]);
        expect(seen.find(`${other.name}-secret`)).toEqual([]);
        for (const text of seen.texts) {
          let data: unknown;
          try { data = (JSON.parse(text.slice(text.indexOf('\n') + 1)) as { data?: unknown; payload?: { data?: unknown } }); } catch { continue; }
          const shown = JSON.stringify((data as { data?: unknown })?.data ?? (data as { payload?: { data?: unknown } })?.payload?.data ?? null);
          for (const job of other.jobs) {
            expect(shown).not.toContain(job);
            expect(shown.toLowerCase()).not.toContain(jobUuid(job));
          }
        }
      }
      for (const text of seen.texts) transcript.add(text);
    }), {
      numRuns: 80,
      // Besides the random ones: each entry point at least once, against a QUEUED job.
      examples: ENTRY_POINTS.map((entry, i): [Attempt] => [{
        attacker: i % 3, victimOffset: 1, job: 3, entry, idForm: 'global', cursorPick: i, pageSize: 2, backwards: false,
        statusFilter: undefined, kindFilter: undefined,
      }]),
    });

    // Every entry point was tried, and none changed anything.
    expect([...tried.keys()].sort()).toEqual([...ENTRY_POINTS].sort());
    expect(await databaseState()).toBe(dbBefore);
    for (const tenant of tenants) {
      for (const id of tenant.jobs) expect(await ownerView(tenant, id)).toEqual(tenant.before.get(id));
    }
  });

  it('still shows each tenant all of its own jobs (the attempts above were refused, not the tenants)', async () => {
    for (const tenant of tenants) {
      const res = await gql<SecJobsQuery>(tenant.key, SecJobsDocument, { first: 10 });
      expect(res.json!.data!.jobs.totalCount).toBe(4);
      expect(res.json!.data!.jobs.edges.map((e) => e.node.id)).toEqual([...tenant.jobs].reverse());
      const statuses = res.json!.data!.jobs.edges.map((e) => e.node.status);
      expect(statuses).toEqual(['QUEUED', 'FAILED', 'COMPLETED', 'COMPLETED']);
    }
  });
});

describe('API keys', () => {
  it('stops a revoked key at once for HTTP, and closes its open WebSocket with 4403 within 5 s', async () => {
    const [alpha] = tenants;
    const key = await createKey(t.app.db, alpha.name);
    allKeys.push(key);
    const socket = new RawGraphqlSocket(t.wsUrl, key, transcript);
    try {
      await socket.ready();
      socket.subscribe('live', SecJobProgressDocument, { id: alpha.queued });
      await socket.until('the first snapshot', () => socket.of('live').some((m) => m.type === 'next'));
      expect(socket.of('live')[0].payload.data.jobProgress).toMatchObject({ id: alpha.queued, status: 'QUEUED' });
      expect((await gql(key, SecJobDocument, { id: alpha.queued })).status).toBe(200);

      expect(await revokeKey(t.app.db, key)).toBe(true);
      const refused = await gql(key, SecJobDocument, { id: alpha.queued });
      expect(refused.status).toBe(401);
      expect(refused.json?.data ?? null).toBeNull();

      const close = await socket.closedWith(5000);
      expect(close.code).toBe(4403);
      // The tenant's other key is untouched.
      expect((await jobState(alpha.key, alpha.queued))?.status).toBe('QUEUED');
    } finally {
      socket.close();
    }
  });

  it('keeps no key in clear anywhere in the database', async () => {
    const tables = await t.app.db.query<{ schema: string; name: string }>(
      `select table_schema as schema, table_name as name from information_schema.tables
       where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`);
    expect(tables.map((r) => r.name)).toEqual(expect.arrayContaining(['api_keys', 'import_jobs', 'job_errors', 'events']));
    const dump: string[] = [];
    for (const { schema, name } of tables) {
      const rows = await t.app.db.query<{ row: string }>(`select row_to_json(x)::text as row from "${schema}"."${name}" x`);
      dump.push(...rows.map((r) => r.row));
    }
    const text = dump.join('\n');
    for (const key of allKeys) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(key.slice(4)); // the random part, whatever the prefix
      expect(text).toContain(createHash('sha256').update(key).digest('hex'));
    }
  });

  it('never writes a key to the log, even for failing requests', async () => {
    const [alpha] = tenants;
    // Failing requests that carry a real key or something close to it.
    expect((await gql(`${alpha.key}x`, SecJobDocument, { id: alpha.queued })).status).toBe(401);
    const basic = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Basic ${alpha.key}` }, body: '{"query":"{ jobs { totalCount } }"}' });
    expect(basic.status).toBe(401);
    const wrong = new RawGraphqlSocket(t.wsUrl, `${alpha.key}x`, transcript);
    expect((await wrong.closedWith()).code).toBe(4403);
    // A multipart upload whose file never comes: it fails inside the resolver.
    const B = 'LOGCHECKBOUNDARY';
    const body = `--${B}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: print(UploadImportDocument), variables: { input: { kind: 'EVENTS', file: null } } })}\r\n`
      + `--${B}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{"0":["variables.input.file"]}\r\n--${B}--\r\n`;
    const failing = await readResult(await fetch(t.url, { method: 'POST', headers: { authorization: `Bearer ${alpha.key}`, 'content-type': `multipart/form-data; boundary=${B}` }, body }), transcript);
    expect(failing.json?.errors?.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));

    const log = mem.text();
    // The log did capture the service's life (so "not in the log" means something).
    expect(log).toContain('bulk-import listening');
    expect(log).toContain('job completed');
    for (const key of allKeys) {
      expect(log).not.toContain(key);
      expect(log).not.toContain(key.slice(4));
    }
  });

  it('never sends a key back in any answer', () => {
    expect(transcript.texts.length).toBeGreaterThan(200);
    for (const key of allKeys) {
      expect(transcript.find(key.slice(4))).toEqual([]);
    }
  });
});
