/** Job.errorReportUrl: the failed rows as a CSV, to the job's own tenant only, safe to open in a spreadsheet. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobReportDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import { spreadsheetCell } from '../src/reports/errorReport.js';
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
    // No PUBLIC_URL, no TRUST_PROXY: the address the server listens on (HOST 127.0.0.1 here).
    expect(report!.errorReportUrl).toBe(`http://127.0.0.1:${new URL(t.url).port}/jobs/${encodeURIComponent(job.id)}/errors.csv`);

    const res = await fetch(report!.errorReportUrl!, { headers: { authorization: `Bearer ${owner.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await res.text()).split('\r\n');
    const original = csv.split('\n');
    expect(lines[0]).toBe('line,column,value,message,row');
    expect(lines[1]).toBe(`3,event_type,"'=HYPERLINK(""http://x"")",` +
      `"event_type must be one of identify_user, identify_company, page_view, track",` +
      `"${original[2].replace(/"/g, '""')}"`);
    // -1 is a number: left as it is, so that a spreadsheet reads it as one.
    expect(lines[2]).toBe(`5,screen_width,-1,screen_width must be a non-negative integer,"${original[4].replace(/"/g, '""')}"`);
    expect(lines[3]).toBe('');
  });

  it('neutralises formulas after leading spaces and invisible characters too, and leaves signed numbers as they are', async () => {
    const sneaky = [' =1+1', '\u00A0=1+1', '\u200B+cmd', '\uFEFF@SUM(A1)', '\u3000-2+3', '\u2060=x', ' \t=x'];
    const rows = [...sneaky.map((value, i) => eventRow(i, { event_type: value })), eventRow(7, { screen_width: '-5' }), eventRow(8, { screen_height: '-3.2' })];
    const job = await finishedJob(eventsCsv(rows));
    const { job: report } = await owner.data(JobReportDocument, { id: job.id });
    const res = await fetch(report!.errorReportUrl!, { headers: { authorization: `Bearer ${owner.key}` } });
    const lines = (await res.text()).split('\r\n').slice(1, -1);
    expect(lines).toHaveLength(9);
    sneaky.forEach((value, i) => {
      const [line, column, cell] = lines[i].split(',');
      expect([line, column, cell], JSON.stringify(value)).toEqual([String(i + 2), 'event_type', `'${value}`]);
      // The original row starts with the same value, and is neutralised the same way.
      expect(lines[i], JSON.stringify(value)).toMatch(/,"'[^,]+,[^,]*,web-client,/u);
    });
    expect(lines[7]).toMatch(/^9,screen_width,-5,screen_width must be a non-negative integer,"page_view,/);
    expect(lines[8]).toMatch(/^10,screen_height,-3\.2,screen_height must be a non-negative integer,"page_view,/);
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

describe('spreadsheetCell', () => {
  it('prefixes an apostrophe to a cell that opens with = + - @ tab or CR, after any leading space or invisible character', () => {
    const formulas = ['=1+1', '+cmd', '-2+3', '@SUM(A1)', '\t=x', '\rx', ' =1', '   @x', '\u00A0=1', '\u2007=1', '\u3000=1', '\u200B=1', '\u200D+1',
      '\u2060-1+1', '\uFEFF@x', '\u180E=1', '\u0000=1', '\u001F=1', '\u00AD=1', ' \u00A0\u200B\uFEFF=1', '\n=1', '-', '+', '-5 ', ' -5', '\u00A0-5', '-1,000',
      '-0x10', '-Infinity', '-5e', '--5', '-5-5', '-1e5+1'];
    for (const value of formulas) {
      expect(spreadsheetCell(value), JSON.stringify(value)).toMatch(/^"?'/);
      expect(spreadsheetCell(value).replace(/^"|"$/g, '').replace(/""/g, '"'), JSON.stringify(value)).toBe(`'${value}`);
    }
  });

  it('leaves a signed decimal number as it is, so that it stays a number', () => {
    for (const value of ['-5', '+5', '-3.2', '+3.', '-.5', '-1e5', '+1e5', '-1.5E-3', '-0', '5', '3.2']) {
      expect(spreadsheetCell(value), value).toBe(value);
    }
  });

  it('leaves other text as it is, quoted where CSV needs it', () => {
    expect(spreadsheetCell('page_view')).toBe('page_view');
    expect(spreadsheetCell(' x')).toBe(' x');
    expect(spreadsheetCell('\u00A0x')).toBe('\u00A0x');
    expect(spreadsheetCell('a=1')).toBe('a=1');
    expect(spreadsheetCell('say "hi", then =1')).toBe('"say ""hi"", then =1"');
    expect(spreadsheetCell('')).toBe('""');
    expect(spreadsheetCell(null)).toBe('');
  });
});
