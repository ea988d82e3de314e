/**
 * The `jobs` Relay connection (newest first, keyset-paginated, stable while jobs arrive, both
 * directions, filters), node(id), and the paging of a job's row errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelJobDocument, JobErrorsDocument, JobsDocument, NodeDocument, UploadImportDocument,
  type JobFilter, type JobsQuery,
} from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

type Edge = JobsQuery['jobs']['edges'][number]['node'];

async function createJob(client: GraphQLTestClient, name: string): Promise<string> {
  // Each file different (its user_id names it), or the second would be refused as DUPLICATE_FILE.
  const { status, body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name, content: eventsCsv([eventRow(0, { user_id: name })]) });
  expect(status).toBe(200);
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  return body.data!.uploadImport.job!.id;
}

async function createJobs(client: GraphQLTestClient, prefix: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await createJob(client, `${prefix}-${String(i).padStart(2, '0')}.csv`));
  return ids;
}

/** Pages forward with `first` until hasNextPage is false; `between` runs after each page. */
async function pageForward(client: GraphQLTestClient, first: number, filter?: JobFilter, between?: (page: number) => Promise<void>) {
  const pages: Edge[][] = [];
  let after: string | null | undefined;
  for (;;) {
    const { jobs } = await client.data(JobsDocument, { first, after, filter });
    pages.push(jobs.edges.map((e) => e.node));
    if (jobs.edges.length) expect(jobs.pageInfo.endCursor).toBe(jobs.edges.at(-1)!.cursor);
    if (!jobs.pageInfo.hasNextPage) break;
    expect(pages.length).toBeLessThan(50);
    after = jobs.pageInfo.endCursor;
    await between?.(pages.length);
  }
  return pages;
}

describe('jobs connection (no workers: every job stays QUEUED)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  /** The 25 jobs in creation order (oldest first). */
  let created: string[];

  beforeAll(async () => {
    t = await startTestApp({ workerConcurrency: 0, maxActiveJobsPerTenant: 1000 });
    client = await t.clientFor('steady');
    created = await createJobs(client, 'steady', 25);
  });
  afterAll(() => t?.close());

  it('pages forward through all 25 jobs, newest first, each once', async () => {
    const pages = await pageForward(client, 10);
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    const all = pages.flat();
    expect(new Set(all.map((j) => j.id)).size).toBe(25);
    expect(all.map((j) => j.id)).toEqual([...created].reverse());
    expect(all.map((j) => j.filename)).toEqual(created.map((_, i) => `steady-${String(i).padStart(2, '0')}.csv`).reverse());
    const times = all.map((j) => Date.parse(j.createdAt));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThanOrEqual(times[i - 1]);

    const { jobs } = await client.data(JobsDocument, { first: 10 });
    expect(jobs.totalCount).toBe(25);
    expect(jobs.pageInfo.hasNextPage).toBe(true);
  });

  it('pages backward with last/before through the same jobs in the same order', async () => {
    const pages: Edge[][] = [];
    let before: string | null | undefined;
    for (;;) {
      const { jobs } = await client.data(JobsDocument, { last: 10, before });
      pages.unshift(jobs.edges.map((e) => e.node));
      if (jobs.edges.length) expect(jobs.pageInfo.startCursor).toBe(jobs.edges[0].cursor);
      if (!jobs.pageInfo.hasPreviousPage) break;
      expect(pages.length).toBeLessThan(10);
      before = jobs.pageInfo.startCursor;
    }
    expect(pages.map((p) => p.length)).toEqual([5, 10, 10]);
    expect(pages.flat().map((j) => j.id)).toEqual([...created].reverse());
  });

  it('filters by status and by kind, with totalCount and paging per filter', async () => {
    const cancelled = [created[3], created[7], created[11], created[20]];
    for (const id of cancelled) {
      const { cancelJob } = await client.data(CancelJobDocument, { id });
      expect(cancelJob.job?.status).toBe('CANCELLED');
    }

    const onlyCancelled = await pageForward(client, 3, { status: ['CANCELLED'] });
    expect(onlyCancelled.flat().map((j) => j.id)).toEqual([...cancelled].reverse());
    expect(onlyCancelled.flat().every((j) => j.status === 'CANCELLED')).toBe(true);
    expect((await client.data(JobsDocument, { first: 1, filter: { status: ['CANCELLED'] } })).jobs.totalCount).toBe(4);

    const queued = (await pageForward(client, 10, { status: ['QUEUED'] })).flat();
    expect(queued.map((j) => j.id)).toEqual(created.filter((id) => !cancelled.includes(id)).reverse());
    expect((await client.data(JobsDocument, { first: 1, filter: { status: ['QUEUED'] } })).jobs.totalCount).toBe(21);

    const either = await client.data(JobsDocument, { first: 100, filter: { status: ['QUEUED', 'CANCELLED'] } });
    expect(either.jobs.totalCount).toBe(25);
    expect(either.jobs.edges).toHaveLength(25);

    const events = await client.data(JobsDocument, { first: 100, filter: { kind: ['EVENTS'] } });
    expect(events.jobs.totalCount).toBe(25);
    const users = await client.data(JobsDocument, { first: 100, filter: { kind: ['USERS', 'LOCATIONS'] } });
    expect(users.jobs.totalCount).toBe(0);
    expect(users.jobs.edges).toEqual([]);
    const both = await client.data(JobsDocument, { first: 100, filter: { kind: ['EVENTS'], status: ['CANCELLED'] } });
    expect(both.jobs.edges.map((e) => e.node.id)).toEqual([...cancelled].reverse());
    const none = await client.data(JobsDocument, { first: 100, filter: { kind: ['USERS'], status: ['CANCELLED'] } });
    expect(none.jobs.totalCount).toBe(0);
  });

  it('answers an invalid cursor with a GraphQL error, and keeps serving', async () => {
    const { jobs } = await client.data(JobsDocument, { first: 2 });
    const errorCursor = Buffer.from('error:5').toString('base64url'); // a cursor of another list
    for (const variables of [{ first: 5, after: 'garbage' }, { last: 5, before: 'not-a-cursor!' }, { first: 5, after: errorCursor }]) {
      const { status, body } = await client.request(JobsDocument, variables);
      expect(status).toBe(200);
      expect(body.errors?.length).toBeGreaterThan(0);
      expect(body.data?.jobs ?? null).toBeNull();
    }
    // The service is still up and the good cursor still works.
    const next = await client.data(JobsDocument, { first: 2, after: jobs.pageInfo.endCursor });
    expect(next.jobs.edges).toHaveLength(2);
  });

  it('says the cursor is invalid', async () => {
    const { body } = await client.request(JobsDocument, { first: 5, after: 'garbage' });
    expect(body.errors?.[0].message).toMatch(/invalid cursor/i);
    expect(body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('finds a job by its global id with node(id)', async () => {
    const { node } = await client.data(NodeDocument, { id: created[0] });
    expect(node).toEqual({ id: created[0], status: 'QUEUED', kind: 'EVENTS' });
    const unknown = Buffer.from('Job:00000000-0000-4000-8000-000000000000').toString('base64');
    expect((await client.data(NodeDocument, { id: unknown })).node).toBeNull();
  });

  it('neither repeats nor skips a job when new jobs arrive between pages', async () => {
    const busy = await t.clientFor('busy');
    const originals = await createJobs(busy, 'busy', 12);
    const arrivals: string[] = [];
    const pages = await pageForward(busy, 5, undefined, async (page) => {
      if (page === 1) arrivals.push(...(await createJobs(busy, 'late', 3)));
    });
    expect(arrivals).toHaveLength(3);
    const seen = pages.flat().map((j) => j.id);
    expect(seen).toEqual([...originals].reverse());
    for (const id of arrivals) expect(seen).not.toContain(id);

    const fresh = await busy.data(JobsDocument, { first: 5 });
    expect(fresh.jobs.totalCount).toBe(15);
    expect(fresh.jobs.edges.map((e) => e.node.id).slice(0, 3)).toEqual([...arrivals].reverse());
    expect(fresh.jobs.edges.map((e) => e.node.id).slice(3)).toEqual(originals.slice(-2).reverse());
  });
});

describe('Job.errors paging (workers running)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    // Small batches, so the 30 errors are written by several batch commits.
    t = await startTestApp({ batchSize: 7 });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  it('pages through 30 row errors 10 at a time, in line order, each once', async () => {
    const rows = manyEvents(75);
    const badLines: number[] = [];
    for (let i = 0; i < rows.length && badLines.length < 30; i += 2) {
      rows[i] = eventRow(i, { event_type: `bad_${i}` });
      badLines.push(i + 2); // header is line 1
    }
    const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'bad.csv', content: eventsCsv(rows) });
    expect(body.data?.uploadImport.userErrors).toEqual([]);
    const job = await waitForJob(client, body.data!.uploadImport.job!.id);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsFailed: 30, rowsImported: 45 });

    const pages: { line: number; value: string | null; column: string | null }[][] = [];
    let after: string | null | undefined;
    for (;;) {
      const data = await client.data(JobErrorsDocument, { id: job.id, first: 10, after });
      const errors = data.job!.errors;
      expect(errors.totalCount).toBe(30);
      pages.push(errors.edges.map((e) => e.node));
      if (!errors.pageInfo.hasNextPage) break;
      expect(pages.length).toBeLessThan(10);
      after = errors.pageInfo.endCursor;
    }
    expect(pages.map((p) => p.length)).toEqual([10, 10, 10]);
    const all = pages.flat();
    expect(all.map((e) => e.line)).toEqual(badLines);
    expect(all.every((e) => e.column === 'event_type')).toBe(true);
    expect(all.map((e) => e.value)).toEqual(badLines.map((line) => `bad_${line - 2}`));
  });
});
