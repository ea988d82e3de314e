/**
 * The embedded default (no DATABASE_URL: PGlite under the data folder), whatever DATABASE_URL
 * this run has: key, upload, live progress to COMPLETED, rows and row errors in the database.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { JobErrorsDocument, JobProgressDocument, JobsDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { jobUuid } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp({ batchSize: 50 }, { pglite: true });
  client = await t.clientFor('embedded');
});
afterAll(() => t?.close());

it('runs on PGlite in the data folder', async () => {
  expect(t.app.db.driver).toBe('pglite');
  expect(t.databaseUrl).toBeUndefined();
  expect((await fs.stat(path.join(t.dataDir, 'pglite'))).isDirectory()).toBe(true);
});

it('imports an uploaded CSV, followed live to COMPLETED, into the events table', async () => {
  const rows = manyEvents(120);
  rows[41] = eventRow(41, { inserted_at: 'not a time' }); // line 43
  const { status, body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'events.csv', content: eventsCsv(rows) });
  expect(status).toBe(200);
  expect(body.data?.uploadImport.userErrors).toEqual([]);
  const id = body.data!.uploadImport.job!.id;

  const events = await client.subscribe(JobProgressDocument, { id });
  const statuses = events.map((e) => e.jobProgress.status);
  expect(['QUEUED', 'RUNNING']).toContain(statuses[0]);
  expect(statuses.at(-1)).toBe('COMPLETED');
  expect(events.at(-1)!.jobProgress).toMatchObject({ rowsProcessed: 120, rowsImported: 119, rowsFailed: 1, percentComplete: 100 });

  const stored = await t.app.db.query<{ line: number; user_id: string; screen_width: number }>(
    'select line, user_id, screen_width from events where job_id = $1 order by line', [jobUuid(id)]);
  expect(stored).toHaveLength(119);
  expect(stored.map((r) => r.line)).not.toContain(43);
  expect(stored[0]).toEqual({ line: 2, user_id: 'User-0', screen_width: 1086 });
  expect(stored.at(-1)).toEqual({ line: 121, user_id: 'User-119', screen_width: 1086 });

  const { job } = await client.data(JobErrorsDocument, { id, first: 10 });
  expect(job!.errors.edges.map((e) => [e.node.line, e.node.column, e.node.value])).toEqual([[43, 'inserted_at', 'not a time']]);

  const { jobs } = await client.data(JobsDocument, { first: 5 });
  expect(jobs.totalCount).toBe(1);
  expect(jobs.edges[0].node).toMatchObject({ id, status: 'COMPLETED' });
});
