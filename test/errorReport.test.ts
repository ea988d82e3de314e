/** Job.errorReportUrl: the failed rows as a CSV, to the job's own tenant only, safe to open in a spreadsheet. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobReportDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

let t: TestApp;
let owner: GraphQLTestClient;
let other: GraphQLTestClient;

beforeAll(async () => {
  t = await startTestApp();
  owner = await t.clientFor('owner');
  other = await t.clientFor('other');
});
afterAll(() => t?.close());

async function finishedJob(content: string) {
  const { body } = await owner.upload(UploadImportDocument, { input: { kind: 'EVENTS' } }, { name: 'r.csv', content });
  return waitForJob(owner, body.data!.uploadImport.job!.id);
}

describe('error report', () => {
  it('streams line, column, value, message and the original row, with formula cells neutralised', async () => {
    const rows = manyEvents(4);
    rows[1] = eventRow(1, { event_type: '=HYPERLINK("http://x")' });
    rows[3] = eventRow(3, { screen_width: '-1', user_id: '@me' });
    const csv = eventsCsv(rows);
    const job = await finishedJob(csv);
    const { job: report } = await owner.data(JobReportDocument, { id: job.id });
    expect(report!.errorReportUrl).toBe(`${t.url.replace(/\/graphql$/, '')}/jobs/${encodeURIComponent(job.id)}/errors.csv`);

    const res = await fetch(report!.errorReportUrl!, { headers: { authorization: `Bearer ${owner.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await res.text()).split('\r\n');
    const original = csv.split('\n');
    expect(lines[0]).toBe('line,column,value,message,row');
    expect(lines[1]).toBe(`3,event_type,"'=HYPERLINK(""http://x"")",` +
      `"event_type must be one of identify_user, identify_company, page_view, track",` +
      `"${original[2].replace(/"/g, '""')}"`);
    expect(lines[2]).toBe(`5,screen_width,'-1,screen_width must be a non-negative integer,"${original[4].replace(/"/g, '""')}"`);
    expect(lines[3]).toBe('');
  });

  it('is only for the job\'s tenant: 404 for another tenant, 401 without a key', async () => {
    const job = await finishedJob(eventsCsv([eventRow(0, { event_type: 'x' })]));
    const { job: report } = await owner.data(JobReportDocument, { id: job.id });
    const url = report!.errorReportUrl!;
    expect((await fetch(url, { headers: { authorization: `Bearer ${other.key}` } })).status).toBe(404);
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(`${url}?key=${owner.key}`)).status).toBe(401);
  });

  it('is null for a job without failed rows', async () => {
    const job = await finishedJob(eventsCsv(manyEvents(3)));
    const { job: report } = await owner.data(JobReportDocument, { id: job.id });
    expect(report).toMatchObject({ rowsFailed: 0, errorReportUrl: null });
  });
});
