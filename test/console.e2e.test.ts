/**
 * The import console (src/console/) in a real browser against the real server: sign in with a
 * key, upload a file and watch its job to the end over the WebSocket, read its row errors and
 * download the server's error report, see a refused upload explained, page through the jobs.
 *
 * Needs chromium (Debian's, at /usr/bin/chromium): skipped with a reason without it, a failure in
 * CI. CONSOLE_SCREENSHOTS=<folder> saves a screenshot of each step there.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import ExcelJS from 'exceljs';
import { buildSchema, parse, validate } from 'graphql';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ColumnMappingsDocument, JobReportDocument, UploadImportDocument } from '../src/generated/gql/graphql.js';
import * as consoleQueries from '../src/console/queries.js';
import { launchChromium, requireChromium } from './support/browser.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const haveChromium = requireChromium('the import console end-to-end test');
const screenshots = process.env.CONSOLE_SCREENSHOTS;

describe('console operations', () => {
  it('are all valid against the schema', async () => {
    const schema = buildSchema(await fs.readFile('schema.graphql', 'utf8'));
    const operations = Object.entries(consoleQueries).filter(([name]) => name !== 'JOB_FIELDS');
    expect(operations.length).toBeGreaterThanOrEqual(7);
    for (const [name, source] of operations) {
      expect(validate(schema, parse(source)).map((e) => `${name}: ${e.message}`)).toEqual([]);
    }
  });
});

describe.skipIf(!haveChromium)('import console in a browser', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Everything the page logged as an error, CSP violations included: must stay empty. */
  const pageProblems: string[] = [];
  /** Text frames the page sent and received over WebSockets. */
  const framesSent: string[] = [];
  const framesReceived: string[] = [];
  let uploadedJobId = '';

  const shot = async (name: string) => {
    if (screenshots) await page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    if (screenshots) await fs.mkdir(screenshots, { recursive: true });
    t = await startTestApp({ maxActiveJobsPerTenant: 100, batchSize: 500 });
    client = await t.clientFor('console');
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('console', (msg) => { if (msg.type() === 'error') pageProblems.push(`console: ${msg.text()}`); });
    page.on('pageerror', (err) => pageProblems.push(`pageerror: ${err.message}`));
    page.on('requestfailed', (req) => pageProblems.push(`requestfailed: ${req.url()} ${req.failure()?.errorText}`));
    page.on('websocket', (ws) => {
      ws.on('framesent', (f) => { if (typeof f.payload === 'string') framesSent.push(f.payload); });
      ws.on('framereceived', (f) => { if (typeof f.payload === 'string') framesReceived.push(f.payload); });
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('serves the page with its strict CSP and asks for a key; refuses a wrong key', async () => {
    const base = t.url.replace(/\/graphql$/, '');
    const response = await page.goto(`${base}/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'");
    await page.getByRole('heading', { name: 'Connect with an API key' }).waitFor();
    await shot('01-key');

    await page.getByRole('textbox', { name: 'API key' }).fill('bik_not_a_real_key');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByText('This API key was refused').waitFor();
    expect(await page.getByRole('textbox', { name: 'API key' }).getAttribute('aria-invalid')).toBe('true');
    // The browser logs the refused request (401) as an error: expected here, and only here.
    expect(pageProblems.splice(0)).toEqual([expect.stringContaining('401')]);

    await page.getByRole('textbox', { name: 'API key' }).fill(client.key!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'New import' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('bulk-import.apiKey'))).toBe(client.key);
    await page.getByText('No jobs yet').waitFor();
  });

  it('labels every form control', async () => {
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, button')]
      .filter((el) => {
        const control = el as HTMLInputElement;
        if (control.type === 'hidden') return false;
        if (el.tagName === 'BUTTON') return !(el.textContent ?? '').trim() && !el.getAttribute('aria-label');
        return !(control.labels?.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby');
      })
      .map((el) => el.outerHTML));
    expect(unlabelled).toEqual([]);
  });

  it('uploads an EVENTS file, follows its job live to COMPLETED, shows its row errors and downloads its error report', async () => {
    const rows = manyEvents(3000);
    rows[2] = eventRow(2, { event_type: '=1+1' }); // line 4: the header is line 1
    rows[5] = eventRow(5, { screen_width: '-5' }); // line 7: a signed number, no formula
    rows[8] = eventRow(8, { event_type: ' @SUM(A1)' }); // line 10: a formula after a space
    const csv = eventsCsv(rows);
    await page.locator('input[type=file]').setInputFiles({ name: 'events.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByText('events.csv', { exact: true }).waitFor();
    await page.getByLabel('Kind of data').selectOption('EVENTS');
    await page.getByRole('button', { name: 'Upload and import' }).click();

    const result = page.locator('#upload-result');
    await result.getByRole('link', { name: 'Open the job' }).waitFor();
    expect(await result.getAttribute('role')).toBe('status');
    const row = page.locator('#jobs-body tr', { hasText: 'events.csv' });
    uploadedJobId = (await row.getAttribute('data-job-id'))!;
    expect(uploadedJobId).toBeTruthy();
    await shot('02-uploaded');

    // Completed, under the form and in the list: status, a full bar, the counts.
    await result.getByText('events.csv has been imported.').waitFor({ timeout: 30_000 });
    await result.getByText('2,997 imported · 3 failed').waitFor();
    await row.getByText('Completed').waitFor();
    expect(await row.locator('progress').evaluate((el: HTMLProgressElement) => el.value)).toBe(100);
    expect(await row.locator('td').allInnerTexts()).toEqual(expect.arrayContaining(['100%', '3,000', '2,997', '3']));
    await shot('03-completed');

    // The progress came over graphql-ws: the key in connection_init, then the job's snapshots
    // ending with its terminal state.
    const sent = framesSent.map((f) => JSON.parse(f));
    expect(sent).toContainEqual({ type: 'connection_init', payload: { authorization: `Bearer ${client.key}` } });
    expect(sent).toContainEqual(expect.objectContaining({ type: 'subscribe', payload: expect.objectContaining({ variables: { id: uploadedJobId } }) }));
    const snapshots = framesReceived.map((f) => JSON.parse(f))
      .filter((m) => m.type === 'next' && m.payload.data?.jobProgress?.id === uploadedJobId)
      .map((m) => m.payload.data.jobProgress.status);
    expect(snapshots.at(-1)).toBe('COMPLETED');

    // The job's own page: its numbers and its row error, by line.
    await row.getByRole('link', { name: 'events.csv' }).click();
    await page.getByRole('heading', { name: 'events.csv', level: 1 }).waitFor();
    expect(page.url()).toContain(`#/jobs/${encodeURIComponent(uploadedJobId)}`);
    await page.locator('#job-status').getByText('Completed').waitFor();
    await page.getByRole('heading', { name: 'Row errors (3)' }).waitFor();
    const errorRows = page.locator('#errors-body tr');
    expect(await errorRows.count()).toBe(3);
    expect(await errorRows.first().locator('td').allInnerTexts()).toEqual([
      '4', 'event_type', '=1+1', 'event_type must be one of identify_user, identify_company, page_view, track',
    ]);
    await shot('04-job');

    // The download is the server's error report for this job, byte for byte (the file the CLI's
    // `errors --csv` prints): the original row too, formulas neutralised also after a space, the
    // signed number left alone, CRLF line ends, the server's file name.
    const { job: reported } = await client.data(JobReportDocument, { id: uploadedJobId });
    const report = await fetch(reported!.errorReportUrl!, { headers: { authorization: `Bearer ${client.key}` } });
    expect(report.status).toBe(200);
    const expected = Buffer.from(await report.arrayBuffer());
    const serverName = /filename="([^"]+)"/.exec(report.headers.get('content-disposition') ?? '')?.[1];
    expect(serverName).toMatch(/^job-[0-9a-f-]+-errors\.csv$/);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download errors (CSV)' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(serverName);
    const downloaded = await fs.readFile((await download.path())!);
    expect(downloaded.toString('latin1')).toBe(expected.toString('latin1')); // one character per byte
    const original = csv.split('\n');
    const quoted = (text: string) => `"${text.replace(/"/g, '""')}"`;
    const notAnEventType = quoted('event_type must be one of identify_user, identify_company, page_view, track');
    expect(downloaded.toString('utf8').split('\r\n')).toEqual([
      'line,column,value,message,row',
      `4,event_type,'=1+1,${notAnEventType},${quoted(`'${original[3]}`)}`,
      `7,screen_width,-5,screen_width must be a non-negative integer,${quoted(original[6])}`,
      `10,event_type,' @SUM(A1),${notAnEventType},${quoted(`'${original[9]}`)}`,
      '',
    ]);
    await page.getByText(`Downloaded ${serverName}.`).waitFor();
  });

  it('says why the error report cannot be downloaded: no connection, not this key\'s job, a refused key', async () => {
    const button = page.getByRole('button', { name: 'Download errors (CSV)' });
    const notice = page.locator('#errors-error');
    const useKey = (key: string) => page.evaluate((k) => sessionStorage.setItem('bulk-import.apiKey', k), key);

    // The connection drops (the browser's network layer fails the request).
    await page.route('**/errors.csv', (route) => route.abort('internetdisconnected'));
    await button.click();
    await notice.getByText('The server cannot be reached. Check your connection and try again.').waitFor();
    await page.unroute('**/errors.csv');
    expect(await button.isDisabled()).toBe(false);

    // A valid key of another tenant: the server answers 404, as for a job that does not exist.
    await useKey((await t.clientFor('someone-else')).key!);
    await button.click();
    await notice.getByText('The error report was not found: this job does not exist for this API key.').waitFor();

    // A key the server refuses (401): back to the key form, saying why; the job again after it.
    await useKey('bik_not_a_real_key');
    await button.click();
    await page.getByText('This API key was refused. Enter a valid key.').waitFor();
    await page.getByRole('textbox', { name: 'API key' }).fill(client.key!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Row errors (3)' }).waitFor();
    expect(await notice.isHidden()).toBe(true);

    // The browser logs each failed request as an error: expected here, and only these.
    expect(pageProblems.splice(0)).toEqual([
      expect.stringMatching(/^requestfailed: .*\/errors\.csv net::ERR_INTERNET_DISCONNECTED$/),
      expect.stringContaining('ERR_INTERNET_DISCONNECTED'),
      expect.stringContaining('404'),
      expect.stringContaining('401'),
    ]);

    await page.getByRole('link', { name: 'All jobs' }).click();
    await page.getByRole('heading', { name: 'New import' }).waitFor();
  });

  it('takes a dropped file, and explains a refused upload', async () => {
    await page.locator('#dropzone').evaluate((zone) => {
      const data = new DataTransfer();
      data.items.add(new File(['event_type,when\npage_view,now\n'], 'wrong.csv', { type: 'text/csv' }));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    });
    await page.locator('#dropzone').getByText('wrong.csv', { exact: true }).waitFor();
    expect(await page.locator('#dropzone').getAttribute('class')).not.toContain('dragging');
    await page.getByLabel('Kind of data').selectOption('EVENTS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    const alert = page.locator('#upload-result[role=alert]');
    await alert.getByText("Check the file's columns").waitFor();
    expect(await alert.innerText()).toContain('inserted_at');
    await shot('05-refused');

    // Nothing chosen: said before anything is sent.
    await page.locator('input[type=file]').setInputFiles([]);
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await alert.getByText('Choose a file to import.').waitFor();
  });

  it('pages through the jobs, newest first, with Next and Previous', async () => {
    for (let i = 0; i < 25; i++) {
      const { body } = await client.upload(UploadImportDocument, { input: { kind: 'EVENTS' } },
        { name: `page-${String(i).padStart(2, '0')}.csv`, content: eventsCsv([eventRow(1000 + i)]) });
      expect(body.data?.uploadImport.userErrors).toEqual([]);
      if (i === 24) await waitForJob(client, body.data!.uploadImport.job!.id);
    }
    const total = 26; // and events.csv
    const names = () => page.locator('#jobs-body .job-link').allInnerTexts();

    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => page.locator('#jobs-range').innerText()).toBe(`Jobs 1–10 of ${total}`);
    const page1 = await names();
    expect(page1).toEqual(Array.from({ length: 10 }, (_, i) => `page-${String(24 - i).padStart(2, '0')}.csv`));
    expect(await page.getByRole('button', { name: 'Previous' }).first().isDisabled()).toBe(true);
    await shot('06-jobs-page1');

    await page.locator('#jobs-next').click();
    await expect.poll(() => page.locator('#jobs-range').innerText()).toBe(`Jobs 11–20 of ${total}`);
    const page2 = await names();
    expect(page2).toEqual(Array.from({ length: 10 }, (_, i) => `page-${String(14 - i).padStart(2, '0')}.csv`));

    await page.locator('#jobs-next').click();
    await expect.poll(() => page.locator('#jobs-range').innerText()).toBe(`Jobs 21–26 of ${total}`);
    expect(await names()).toEqual([...Array.from({ length: 5 }, (_, i) => `page-${String(4 - i).padStart(2, '0')}.csv`), 'events.csv']);
    expect(await page.locator('#jobs-next').isDisabled()).toBe(true);

    await page.locator('#jobs-prev').click();
    await expect.poll(() => page.locator('#jobs-range').innerText()).toBe(`Jobs 11–20 of ${total}`);
    expect(await names()).toEqual(page2);
    await page.locator('#jobs-prev').click();
    await expect.poll(() => page.locator('#jobs-range').innerText()).toBe(`Jobs 1–10 of ${total}`);
    expect(await names()).toEqual(page1);
    expect(await page.locator('#jobs-prev').isDisabled()).toBe(true);

    // Keyboard: the pager is reachable and works without a mouse.
    await page.locator('#jobs-next').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#jobs-range').innerText()).toBe(`Jobs 11–20 of ${total}`);

    // Filtered by status: the one job that had failed rows is still COMPLETED like the rest.
    await page.getByLabel('Status').selectOption('FAILED');
    await page.getByText('No jobs with this status.').waitFor();
  });

  it('maps the columns of an upload refused for its header, saves the mapping, and a later file with that header imports as it is', async () => {
    const staff = (name: string) => fs.readFile(new URL(`files/${name}`, import.meta.url));
    await page.locator('input[type=file]').setInputFiles({ name: 'staff-export-2024.csv', mimeType: 'text/csv', buffer: await staff('staff-export-2024.csv') });
    await page.getByLabel('Kind of data').selectOption('USERS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    const result = page.locator('#upload-result');
    await result.getByText("Check the file's columns").waitFor();
    expect(await result.innerText()).toContain('Phone: did you mean MOBILE PHONE?');
    await result.getByText("Map the file's columns to USERS").waitFor();
    await shot('08-map-columns');

    // Sending no choice at all is said before anything is sent.
    await page.getByRole('button', { name: 'Import with these columns' }).click();
    await result.getByText('Choose a column (or "Ignore")').waitFor();
    for (const [from, to] of [['Full Name', 'NAME'], ['Phone', 'MOBILE PHONE'], ['E-mail address', 'EMAIL'], ['Staff No', 'External ID'], ['Designation', 'USER_TYPE']]) {
      await result.getByLabel(from, { exact: true }).selectOption(to);
    }
    await result.getByLabel('Notes', { exact: true }).selectOption({ label: 'Ignore this column' });
    await result.getByLabel('Save this mapping as (optional)').fill('Staff export');
    await page.getByRole('button', { name: 'Import with these columns' }).click();
    await result.getByText('staff-export-2024.csv has been imported.').waitFor({ timeout: 60_000 });
    const saved = await client.data(ColumnMappingsDocument, { kind: 'USERS' });
    expect(saved.columnMappings.map((m) => [m.name, m.mapping.length])).toEqual([['Staff export', 6]]);

    await page.locator('input[type=file]').setInputFiles({ name: 'staff-export-2025.csv', mimeType: 'text/csv', buffer: await staff('staff-export-2025.csv') });
    await page.getByLabel('Kind of data').selectOption('USERS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await result.getByText('staff-export-2025.csv has been imported.').waitFor({ timeout: 60_000 });
    await shot('09-mapped-by-saved-mapping');
  }, 180_000);
  it('offers the same mapping form for an NDJSON file, its first record\'s keys as the header', async () => {
    const lines = [
      { 'Full Name': 'Nila Das', Phone: '9845099001', 'Staff No': 'ND-1', Notes: 'new' },
      { 'Full Name': 'Arun Pillai', Phone: '9845099002', 'Staff No': 'ND-2', Notes: '' },
    ];
    const buffer = Buffer.from(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    await page.locator('input[type=file]').setInputFiles({ name: 'staff.ndjson', mimeType: 'application/x-ndjson', buffer });
    await page.getByLabel('Kind of data').selectOption('USERS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    const result = page.locator('#upload-result');
    await result.getByText("Map the file's columns to USERS").waitFor();
    for (const [from, to] of [['Full Name', 'NAME'], ['Phone', 'MOBILE PHONE'], ['Staff No', 'External ID']]) {
      await result.getByLabel(from, { exact: true }).selectOption(to);
    }
    await result.getByLabel('Notes', { exact: true }).selectOption({ label: 'Ignore this column' });
    await page.getByRole('button', { name: 'Import with these columns' }).click();
    await result.getByText('staff.ndjson has been imported.').waitFor({ timeout: 60_000 });
    const rows = await t.app.db.query<{ name: string; phone: string }>("select name, phone from users where external_id in ('ND-1', 'ND-2') order by external_id");
    expect(rows).toEqual([{ name: 'Nila Das', phone: '9845099001' }, { name: 'Arun Pillai', phone: '9845099002' }]);
  }, 180_000);

  it('offers the mapping form for an XLSX workbook and a gzipped CSV too, from the columns the server read', async () => {
    const book = new ExcelJS.Workbook();
    const sheet = book.addWorksheet('Staff');
    sheet.addRow(['Full Name', 'Phone', 'Staff No', 'Notes']);
    sheet.addRow(['Meera Iyer', 9845099011, 'XL-1', 'new']);
    const result = page.locator('#upload-result');
    const files = [
      { name: 'staff.xlsx', mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', buffer: Buffer.from(await book.xlsx.writeBuffer()), id: 'XL-1' },
      { name: 'staff.csv.gz', mimeType: 'application/gzip', buffer: zlib.gzipSync('Full Name,Phone,Staff No,Notes\nVikram Sen,9845099012,GZ-1,\n'), id: 'GZ-1' },
    ];
    for (const { id, ...file } of files) {
      await page.locator('input[type=file]').setInputFiles(file);
      await page.getByLabel('Kind of data').selectOption('USERS');
      await page.getByRole('button', { name: 'Upload and import' }).click();
      await result.getByText("Map the file's columns to USERS").waitFor();
      for (const [from, to] of [['Full Name', 'NAME'], ['Phone', 'MOBILE PHONE'], ['Staff No', 'External ID']]) {
        await result.getByLabel(from, { exact: true }).selectOption(to);
      }
      await result.getByLabel('Notes', { exact: true }).selectOption({ label: 'Ignore this column' });
      await page.getByRole('button', { name: 'Import with these columns' }).click();
      await result.getByText(`${file.name} has been imported.`).waitFor({ timeout: 60_000 });
      expect(await t.app.db.query('select name, phone from users where external_id = $1', [id])).toHaveLength(1);
    }
  }, 180_000);

  it('previews a dry run of a roster file (created, updated with its changes, unchanged, failed), and imports it when confirmed', async () => {
    const seed = await client.upload(UploadImportDocument, { input: { kind: 'USERS' } }, { name: 'seed-users.csv', content: 'NAME,MOBILE PHONE,External ID\nAsha,9876500000,P-1\nRavi,9876500001,P-2\n' });
    await waitForJob(client, seed.body.data!.uploadImport.job!.id);
    const file = 'NAME,MOBILE PHONE,External ID\nAsha,9876500000,P-1\nRavi Kumar,9876500001,P-2\nNew,9876500002,P-3\nBad,12,P-4\n';
    await page.locator('input[type=file]').setInputFiles({ name: 'users-preview.csv', mimeType: 'text/csv', buffer: Buffer.from(file) });
    await page.getByLabel('Kind of data').selectOption('USERS');
    await page.getByLabel('Dry run').check();
    await page.getByRole('button', { name: 'Upload and import' }).click();

    const result = page.locator('#upload-result');
    await result.getByText('users-preview.csv has been checked (dry run): this is what the import would do.').waitFor({ timeout: 30_000 });
    const preview = result.getByLabel('Preview of the import');
    const count = (label: string) => preview.locator('.stat', { hasText: label }).locator('dd').innerText();
    expect([await count('Would create'), await count('Would update'), await count('Unchanged'), await count('Would fail')]).toEqual(['1', '1', '1', '1']);
    const rows = preview.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-outcome')))).toEqual(['UNCHANGED', 'UPDATED', 'CREATED']);
    expect(await rows.nth(1).innerText()).toContain('NAME: Ravi → Ravi Kumar');
    await shot('08-dry-run-preview');
    const ravi = () => t.app.db.query<{ name: string }>("select name from users where external_id = 'P-2'").then((r) => r[0].name);
    expect(await ravi()).toBe('Ravi');

    await preview.getByRole('button', { name: 'Import for real' }).click();
    await result.getByText('users-preview.csv has been imported.').waitFor({ timeout: 30_000 });
    expect(await ravi()).toBe('Ravi Kumar');
  });

  it('logged no errors and broke no CSP rule', () => {
    expect(pageProblems).toEqual([]);
  });
});
