/**
 * jobProgress over graphql-ws: the current snapshot first, then updates that never go backwards,
 * the terminal state last, then the subscription completes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CancelJobDocument, JobProgressDocument, UploadImportDocument, type JobProgressSubscription,
} from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobUuid, waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

type Snapshot = JobProgressSubscription['jobProgress'];

const ORDER: Record<string, number> = { QUEUED: 0, RUNNING: 1, COMPLETED: 2, FAILED: 2, CANCELLED: 2 };
const MISSING_JOB_ID = Buffer.from('Job:00000000-0000-4000-8000-000000000000').toString('base64');

async function upload(client: GraphQLTestClient, name: string, content: string): Promise<string> {
  const { status, body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name, content });
  expect(status).toBe(200);
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  return body.data!.uploadImport.job!.id;
}

/** Collects a subscription's snapshots and whether it completed (rather than erred or still running). */
async function follow(client: GraphQLTestClient, id: string) {
  const seen: Snapshot[] = [];
  const events = await client.subscribe(JobProgressDocument, { id }, (data) => seen.push(data.jobProgress));
  return { snapshots: events.map((e) => e.jobProgress), seenBeforeComplete: seen };
}

describe('following a running import (batchSize 200, progress every 100 ms)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ batchSize: 200, progressIntervalMs: 100 });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  it('streams the snapshot, then progress that never goes backwards, then COMPLETED, then completes', async () => {
    const id = await upload(client, 'events.csv', eventsCsv(manyEvents(20_000)));
    const { snapshots } = await follow(client, id);

    expect(snapshots.length).toBeGreaterThan(2);
    expect(snapshots.every((s) => s.id === id)).toBe(true);
    expect(['QUEUED', 'RUNNING']).toContain(snapshots[0].status);

    for (let i = 1; i < snapshots.length; i++) {
      const [prev, cur] = [snapshots[i - 1], snapshots[i]];
      expect(cur.rowsProcessed).toBeGreaterThanOrEqual(prev.rowsProcessed);
      expect(cur.rowsImported).toBeGreaterThanOrEqual(prev.rowsImported);
      expect(cur.bytesProcessed).toBeGreaterThanOrEqual(prev.bytesProcessed);
      expect(cur.percentComplete).toBeGreaterThanOrEqual(prev.percentComplete);
      expect(ORDER[cur.status]).toBeGreaterThanOrEqual(ORDER[prev.status]);
    }
    // Only the last snapshot is terminal: nothing is sent after it.
    expect(snapshots.slice(0, -1).every((s) => ORDER[s.status] < 2)).toBe(true);
    expect(snapshots.some((s) => s.status === 'RUNNING')).toBe(true);

    const last = snapshots.at(-1)!;
    expect(last).toMatchObject({ status: 'COMPLETED', rowsProcessed: 20_000, rowsImported: 20_000, rowsFailed: 0, rowsTotal: 20_000, percentComplete: 100 });
    expect(last.finishedAt).not.toBeNull();

    const [{ n }] = await t.app.db.query<{ n: number }>('select count(*)::int as n from events where job_id = $1', [jobUuid(id)]);
    expect(n).toBe(20_000);
  });

  it('sends a finished job once, as it ended, then completes', async () => {
    const id = await upload(client, 'small.csv', eventsCsv(manyEvents(5)));
    const finished = await waitForJob(client, id);
    expect(finished.status).toBe('COMPLETED');

    const { snapshots } = await follow(client, id);
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]).toMatchObject({ id, status: 'COMPLETED', rowsImported: 5, finishedAt: finished.finishedAt });
  });

  it('is an error for a job that does not exist, and for another tenant\'s job alike', async () => {
    const id = await upload(client, 'mine.csv', eventsCsv(manyEvents(3)));
    await waitForJob(client, id);
    const outcomeFor = (c: GraphQLTestClient, jobId: string) => c.subscribe(JobProgressDocument, { id: jobId }).then(
      (events) => `completed with ${events.length} events`, (err: Error) => `error: ${err.message}`);

    const missing = await outcomeFor(client, MISSING_JOB_ID);
    expect(missing).toMatch(/^error: /);
    expect(missing).not.toMatch(/socket closed/);
    expect(await outcomeFor(client, 'not-a-global-id')).toBe(missing);

    const other = await t.clientFor('globex');
    expect(await outcomeFor(other, id)).toBe(missing);
    // Its owner follows it fine.
    expect(await outcomeFor(client, id)).toBe('completed with 1 events');
  });
});

describe('following a queued import that is cancelled (no workers)', () => {
  let t: TestApp;
  let client: GraphQLTestClient;

  beforeAll(async () => {
    t = await startTestApp({ workerConcurrency: 0 });
    client = await t.clientFor('acme');
  });
  afterAll(() => t?.close());

  it('sends QUEUED, then CANCELLED when the job is cancelled, then completes', async () => {
    const id = await upload(client, 'events.csv', eventsCsv(manyEvents(10)));
    let cancelled: Promise<unknown> | undefined;
    const events = await client.subscribe(JobProgressDocument, { id }, (data) => {
      // Cancel once the subscription has shown the queued job.
      if (data.jobProgress.status === 'QUEUED' && !cancelled) cancelled = client.data(CancelJobDocument, { id });
    });
    await cancelled;
    const statuses = events.map((e) => e.jobProgress.status);
    expect(statuses[0]).toBe('QUEUED');
    expect(statuses.at(-1)).toBe('CANCELLED');
    expect(statuses.filter((s) => s !== 'QUEUED')).toEqual(['CANCELLED']);
    expect(events.at(-1)!.jobProgress.rowsImported).toBe(0);
  });
});
