/**
 * The console sends a large file (over 32 MiB) as a staged upload, and after a page reload in
 * the middle of it, the same file chosen again continues: only the parts the server lacked are
 * sent (counted on the server), and the import is queued with the whole file; refused after every
 * part arrived, the same file sent again, corrected, is imported with no part sent twice.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, requireChromium } from './support/browser.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const haveChromium = requireChromium('the console staged upload test');

describe.skipIf(!haveChromium)('console: large files as staged uploads, resumed after a reload', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  let browser: Browser;
  let page: Page;
  let file: string;
  const pageErrors: string[] = [];

  const received = async () => {
    const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
    return Number(/bulk_import_staged_part_puts_total\{outcome="received"\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  beforeAll(async () => {
    t = await startTestApp({ maxActiveJobsPerTenant: 10 });
    client = await t.clientFor('console-staged');
    file = path.join(t.dataDir, 'events.csv');
    await fs.writeFile(file, eventsCsv(manyEvents(170_000)));
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('continues after a reload, sending only the parts that had not arrived', async () => {
    const size = (await fs.stat(file)).size;
    expect(size).toBeGreaterThan(32 << 20);
    const parts = Math.ceil(size / (8 << 20));
    await page.goto(t.url.replace(/\/graphql$/, '/'));
    await page.getByRole('textbox', { name: 'API key' }).fill(client.key!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'New import' }).waitFor();

    // Parts 1 and 2 go through; the others hang until the page is reloaded, like a dropped link.
    const held: Route[] = [];
    await page.route('**/staged/**', (route) => {
      if (/\/parts\/[12]\?/.test(route.request().url())) void route.continue();
      else held.push(route);
    });
    await page.locator('input[type=file]').setInputFiles(file);
    await page.getByLabel('Kind of data').selectOption('EVENTS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    for (const deadline = Date.now() + 30_000; (await received()) < 2 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
    expect(await received()).toBe(2);
    expect(await page.locator('#upload-progress-text').innerText()).toMatch(/Uploading events\.csv: .* of /);

    await page.unrouteAll({ behavior: 'ignoreErrors' });
    await page.reload();
    await page.getByRole('heading', { name: 'New import' }).waitFor();
    await page.locator('input[type=file]').setInputFiles(file);
    await page.getByLabel('Kind of data').selectOption('EVENTS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await page.locator('#upload-result').getByRole('link', { name: 'Open the job' }).waitFor({ timeout: 60_000 });
    // Every part arrived exactly once over the two pages.
    expect(await received()).toBe(parts);
    const [job] = await t.app.db.query<{ file_size: number; filename: string }>('select file_size::float8 as file_size, filename from import_jobs');
    expect(job).toEqual({ file_size: size, filename: 'events.csv' });
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('bulk-import.staged:')))).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('refused for its kind once every part arrived: says the file stays on the server, and sent again corrected it is imported with no part sent twice', async () => {
    const wrong = path.join(t.dataDir, 'wrong-kind.csv');
    await fs.writeFile(wrong, eventsCsv(manyEvents(171_000))); // not the file above: that one was imported (DUPLICATE_FILE)
    const parts = Math.ceil((await fs.stat(wrong)).size / (8 << 20));
    const before = await received();
    await page.goto(t.url.replace(/\/graphql$/, '/'));
    // Signed in by the test before, when it ran: the session lasts the tab's life.
    const keyBox = page.getByRole('textbox', { name: 'API key' });
    const heading = page.getByRole('heading', { name: 'New import' });
    await Promise.race([keyBox.waitFor(), heading.waitFor()]);
    if (await keyBox.isVisible()) {
      await keyBox.fill(client.key!);
      await page.getByRole('button', { name: 'Continue' }).click();
    }
    await heading.waitFor();
    await page.locator('input[type=file]').setInputFiles(wrong);
    await page.getByLabel('Kind of data').selectOption('USERS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await page.locator('#upload-result').getByText(/The file stays on the server until .*: choose it again, with the settings corrected/).waitFor({ timeout: 60_000 })
      .catch(async (e) => { throw new Error(`${e.message}\n${await page.locator('#upload-result').innerText().catch(() => '')}\n${await page.locator('#upload-progress-text').innerText().catch(() => '')}`); });
    expect(await received()).toBe(before + parts);

    await page.locator('input[type=file]').setInputFiles(wrong);
    await page.getByLabel('Kind of data').selectOption('EVENTS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await page.locator('#upload-result').getByRole('link', { name: 'Open the job' }).waitFor({ timeout: 60_000 });
    expect(await received(), 'a part was sent again').toBe(before + parts);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('bulk-import.staged:')))).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 180_000);
  it('a part the service keeps refusing: says why in the service\'s own words (its disk full), after the retries', async () => {
    const other = path.join(t.dataDir, 'events-refused.csv');
    await fs.writeFile(other, eventsCsv(manyEvents(172_000)));
    await page.goto(t.url.replace(/\/graphql$/, '/'));
    const heading = page.getByRole('heading', { name: 'New import' });
    await heading.waitFor();
    // The service's own answer to a part that meets a full disk (test/diskFull.test.ts has the real one), for part 3 only.
    await page.route('**/staged/**', (route) => {
      if (!/\/parts\/3\?/.test(route.request().url())) return void route.continue();
      void route.fulfill({ status: 503, headers: { 'retry-after': '60' }, contentType: 'text/plain; charset=utf-8', body: 'The server is out of disk space for uploads at the moment; try again later\n' });
    });
    await page.locator('input[type=file]').setInputFiles(other);
    await page.getByLabel('Kind of data').selectOption('EVENTS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
    await page.locator('#upload-result').getByText('Part 3 of the file could not be sent (HTTP 503): The server is out of disk space for uploads at the moment; try again later. Choose the same file again to continue.')
      .waitFor({ timeout: 60_000 });
    await page.unrouteAll({ behavior: 'ignoreErrors' });
  }, 120_000);
});
