/**
 * GraphiQL at /graphql in a real browser with no way out: every request for a host other than
 * 127.0.0.1 is recorded and refused, as it would be offline or behind a proxy that blocks CDNs.
 * The page must still come up, take a key in its headers editor and run a query. Without a key
 * only the page itself loads (its scripts, styles and editor workers are inside it); every
 * operation it sends needs the key.
 *
 * Needs chromium (Debian's, at /usr/bin/chromium): skipped with a reason without it, a failure in CI.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportBatchDocument } from '../src/generated/gql/graphql.js';
import { launchChromium, requireChromium } from './support/browser.js';
import type { GraphQLTestClient } from './support/client.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const haveChromium = requireChromium('the GraphiQL end-to-end test');

interface Seen { method: string; url: string; authorization: string | undefined; status?: number }

describe.skipIf(!haveChromium)('GraphiQL in a browser with no internet', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  let browser: Browser;
  let page: Page;
  let base: string;
  /** Requests for 127.0.0.1, with the answer's status. */
  const local: Seen[] = [];
  /** Requests for anywhere else: refused, and must not happen. */
  const elsewhere: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    client = await t.clientFor('graphiql');
    for (let i = 0; i < 2; i++) {
      const { importBatch } = await client.data(ImportBatchDocument, {
        input: { kind: 'EVENTS', records: [{ event_type: 'page_view', user_id: `u${i}`, inserted_at: '2026-01-01T00:00:00Z' }] },
      });
      expect(importBatch.job?.status).toBe('COMPLETED');
    }
    base = new URL(t.url).origin.replace('localhost', '127.0.0.1');

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await context.route('**/*', async (route) => {
      const request = route.request();
      const url = new URL(request.url());
      if (url.hostname !== '127.0.0.1') {
        elsewhere.push(request.url());
        return route.abort('internetdisconnected');
      }
      const seen: Seen = { method: request.method(), url: url.pathname + url.search, authorization: await request.headerValue('authorization') ?? undefined };
      local.push(seen);
      const response = await route.fetch();
      seen.status = response.status();
      return route.fulfill({ response });
    });
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  /** The visible Monaco editor in the section labelled `label` (the Headers tool also holds the hidden variables editor). */
  const editor = (label: string) => page.getByRole('region', { name: label }).locator('.monaco-editor:visible');

  /** Replaces the whole text of the Monaco editor in the section labelled `label`. */
  async function replaceEditorText(label: string, text: string) {
    await editor(label).click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // insertText types no keys, so the editor adds no closing brackets or quotes of its own.
    await page.keyboard.insertText(text);
  }

  const resultText = () => page.getByRole('region', { name: 'Result Window' }).innerText().then((s) => s.replace(/\s+/g, ' '));

  it('loads the page and its assets from the service alone, without a key', async () => {
    const response = await page.goto(`${base}/graphql`);
    expect(response?.status()).toBe(200);
    await page.getByRole('button', { name: /Execute query/ }).waitFor();
    await editor('Headers').waitFor();
    // GraphiQL asks for the schema as soon as it is up.
    await expect.poll(() => local.filter((seen) => seen.method === 'POST' && seen.status).length).toBeGreaterThan(0);

    expect(elsewhere).toEqual([]);
    // The page is the only request that went through without a key; everything GraphiQL sent on
    // its own (the schema's introspection) carried the placeholder key and was refused.
    const [pageLoad, ...rest] = local;
    expect(pageLoad).toMatchObject({ method: 'GET', url: '/graphql', authorization: undefined, status: 200 });
    expect(rest.length).toBeGreaterThan(0);
    for (const seen of rest) expect(seen).toMatchObject({ method: 'POST', url: '/graphql', authorization: 'Bearer <your API key>', status: 401 });
    expect(pageErrors).toEqual([]);
  });

  it('runs a query with the key typed into its headers editor', async () => {
    local.length = 0;
    await replaceEditorText('Headers', JSON.stringify({ Authorization: `Bearer ${client.key}` }));
    await replaceEditorText('Operation Editor', 'query JobCount { jobs(first: 1) { totalCount } }');
    // The editor parses what it holds a moment later; the tab takes the operation's name then.
    await page.getByRole('tab', { name: 'JobCount' }).waitFor();
    await page.getByRole('button', { name: /Execute query/ }).click();

    await expect.poll(resultText).toContain('"totalCount": 2');
    expect(elsewhere).toEqual([]);
    expect(local).toContainEqual({ method: 'POST', url: '/graphql', authorization: `Bearer ${client.key}`, status: 200 });
    expect(pageErrors).toEqual([]);
  });
});
