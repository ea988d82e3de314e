/**
 * The console's staged uploads on an S3 spool, with the real browser and the run's real radosgw:
 * the parts go to the store's presigned URLs, another origin than the page's, so the browser sends
 * them only if the bucket's CORS rule allows it. Without the rule the console ends with a message
 * that names CORS and the operator's rule; with the rule exactly as docs/operations.md gives it
 * ("CORS, for the console's staged uploads") the file arrives and the import counts every row.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { CreateBucketCommand, DeleteBucketCorsCommand, GetBucketCorsCommand, PutBucketCorsCommand, type CORSConfiguration, type S3Client } from '@aws-sdk/client-s3';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, requireChromium } from './support/browser.js';
import type { GraphQLTestClient } from './support/client.js';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobUuid, waitForJob } from './support/jobs.js';
import { requireS3, s3Client, s3Store } from './support/s3Store.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const ROWS = 170_000;
const OPERATIONS = path.join(path.dirname(new URL(import.meta.url).pathname), '../docs/operations.md');

/** The CORS rule docs/operations.md gives, its example origin replaced by the console's. */
async function documentedCorsRule(consoleOrigin: string): Promise<CORSConfiguration> {
  const text = await fs.readFile(OPERATIONS, 'utf8');
  const section = text.slice(text.indexOf("**CORS, for the console's staged uploads.**"));
  const json = /```json\n([\s\S]*?)```/.exec(section)?.[1];
  if (!json) throw new Error('docs/operations.md has no CORS rule under "CORS, for the console\'s staged uploads"');
  const rule = JSON.parse(json) as CORSConfiguration;
  for (const r of rule.CORSRules ?? []) r.AllowedOrigins = r.AllowedOrigins?.map(() => consoleOrigin);
  return rule;
}

const haveBoth = requireChromium('the console staged upload test on S3') && requireS3('the console staged upload test on S3');

describe.runIf(haveBoth)('console: staged uploads to an S3 store, with and without its CORS rule', () => {
  // A bucket of its own: its CORS rule is this file's to set and take away.
  const bucket = `console-cors-${Date.now()}`;
  let t: TestApp;
  let s3: S3Client;
  let client: GraphQLTestClient;
  let browser: Browser;
  let consoleUrl: string;

  const csvOf = async (name: string, start: number) => {
    const file = path.join(t.dataDir, name);
    await fs.writeFile(file, eventsCsv(manyEvents(ROWS, start)));
    expect((await fs.stat(file)).size).toBeGreaterThan(32 << 20);
    return file;
  };
  /** A fresh page (its own preflight cache and localStorage), signed in, the form shown. */
  const signedInPage = async (errors: string[]): Promise<Page> => {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(consoleUrl);
    await page.getByRole('textbox', { name: 'API key' }).fill(client.key!);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'New import' }).waitFor();
    return page;
  };
  const upload = async (page: Page, file: string) => {
    await page.locator('input[type=file]').setInputFiles(file);
    await page.getByLabel('Kind of data').selectOption('EVENTS');
    await page.getByRole('button', { name: 'Upload and import' }).click();
  };

  beforeAll(async () => {
    const store = s3Store();
    s3 = s3Client(store);
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    t = await startTestApp({ spoolS3: { bucket, prefix: 'spool/' }, s3Endpoint: store.endpoint, maxActiveJobsPerTenant: 4 });
    client = await t.clientFor('console-cors');
    consoleUrl = t.url.replace(/\/graphql$/, '/');
    expect(new URL(consoleUrl).origin).not.toBe(new URL(store.endpoint).origin);
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    s3?.destroy();
  });

  it('without a CORS rule the upload ends with a message naming CORS and the rule in the docs', async () => {
    await s3.send(new DeleteBucketCorsCommand({ Bucket: bucket }));
    const file = await csvOf('refused.csv', 0);
    const errors: string[] = [];
    const page = await signedInPage(errors);
    await upload(page, file);
    // Each part is retried with backoff before the console gives up: well under a minute.
    const result = page.locator('#upload-result[role=alert]');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.locator('.result-title').innerText()).toBe('The upload did not finish');
    const message = await result.locator('.result-lines').innerText();
    expect(message).toMatch(/^Part \d+ of the file could not be sent: the file store at http:\/\/127\.0\.0\.1:\d+ refused this page \(CORS\)\./);
    expect(message).toContain(`The operator must allow PUT from ${new URL(consoleUrl).origin} in the bucket's CORS rule (docs/operations.md, "CORS, for the console's staged uploads").`);
    expect(await page.getByRole('button', { name: 'Upload and import' }).isEnabled()).toBe(true);
    expect(await page.locator('#upload-progress').isHidden()).toBe(true);
    const [{ n }] = await t.app.db.query<{ n: number }>('select count(*)::int as n from import_jobs');
    expect(n).toBe(0);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 120_000);

  it('with the CORS rule as the docs give it, a file over 32 MiB is sent in parts and imported whole', async () => {
    const rule = await documentedCorsRule(new URL(consoleUrl).origin);
    await s3.send(new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: rule }));
    expect((await s3.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules).toHaveLength(1);
    const file = await csvOf('allowed.csv', ROWS);
    const errors: string[] = [];
    const page = await signedInPage(errors);
    await upload(page, file);
    const link = page.locator('#upload-result').getByRole('link', { name: 'Open the job' });
    await link.waitFor({ timeout: 90_000 });
    const id = decodeURIComponent((await link.getAttribute('href'))!.replace('#/jobs/', ''));
    expect(await waitForJob(client, id, 90_000)).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS, rowsFailed: 0 });
    const [counted] = await t.app.db.query<{ n: number; lines: number }>(
      'select count(*)::int as n, count(distinct line)::int as lines from events where job_id = $1', [jobUuid(id)]);
    expect(counted).toEqual({ n: ROWS, lines: ROWS });
    expect(errors).toEqual([]);
    await page.context().close();
  }, 180_000);

  it('a store the browser cannot reach at all is a lost connection, not CORS', async () => {
    const store = new URL(s3Store().endpoint).origin;
    const file = await csvOf('unreachable.csv', 2 * ROWS);
    const errors: string[] = [];
    const page = await signedInPage(errors);
    // Every request to the store fails as a refused connection would: the parts and the probe.
    await page.route((url) => url.origin === store, (route) => route.abort('connectionrefused'));
    await upload(page, file);
    const result = page.locator('#upload-result[role=alert]');
    await result.waitFor({ timeout: 60_000 });
    expect(await result.locator('.result-lines').innerText()).toMatch(/^Part \d+ of the file could not be sent \(no connection\)\. Choose the same file again to continue\.$/);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 120_000);
});
