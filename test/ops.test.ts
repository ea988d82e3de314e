/** Operators' endpoints: no API key, plain HTTP, Prometheus text for /metrics. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { EVENT_COLUMNS, eventRow, eventsCsv, manyEvents } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let client: GraphQLTestClient;
const base = () => t.url.replace(/\/graphql$/, '');

beforeAll(async () => {
  t = await startTestApp();
  client = await t.clientFor('ops');
});
afterAll(() => t?.close());

describe('operations endpoints', () => {
  it('/healthz and /readyz answer without a key', async () => {
    const health = await fetch(`${base()}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base()}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });

  it('/metrics counts the rows, bytes and jobs of an import', async () => {
    // 30 rows in, one failing, and one whose event_id repeats an earlier row's: a duplicate, not imported.
    const rows = [...manyEvents(29), eventRow(29, { event_id: 'e-1' }), eventRow(30, { event_type: 'nope' }), eventRow(31, { event_id: 'e-1' })];
    const content = eventsCsv(rows, [...EVENT_COLUMNS, 'event_id']);
    const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'm.csv', content });
    const job = await waitForJob(client, body.data!.uploadImport.job!.id);
    expect(job.status).toBe('COMPLETED');

    // The duration is observed just after the job's final state is written: poll for it briefly.
    let res: Response;
    let text = '';
    for (let tries = 0; tries < 50; tries++) {
      res = await fetch(`${base()}/metrics`);
      text = await res.text();
      if (/^bulk_import_job_duration_seconds_count/m.test(text)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(res!.status).toBe(200);
    expect(res!.headers.get('content-type')).toContain('text/plain');
    expect(text).toMatch(/^bulk_import_rows_imported_total\{kind="EVENTS"\} 30$/m);
    expect(text).toMatch(/^bulk_import_rows_failed_total\{kind="EVENTS"\} 1$/m);
    expect(text).toMatch(new RegExp(`^bulk_import_bytes_uploaded_total ${Buffer.byteLength(content)}$`, 'm'));
    expect(text).toMatch(/^bulk_import_job_duration_seconds_count\{kind="EVENTS",status="COMPLETED"\} 1$/m);
    expect(text).toMatch(/^bulk_import_jobs\{status="QUEUED"\} 0$/m);
    expect(text).toMatch(/^bulk_import_jobs\{status="RUNNING"\} 0$/m);
  });

  it('GraphQL still needs a key', async () => {
    const res = await fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ jobs { totalCount } }"}' });
    expect(res.status).toBe(401);
  });
});
