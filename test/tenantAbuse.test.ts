/**
 * A hostile tenant against the second wave's surfaces (staged uploads, webhooks, importFromUrl's
 * redirects), through the real server: each limit holds however the requests are timed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateStagedUploadDocument } from '../src/generated/gql/graphql.js';
import { spoolFiles } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';

describe('a hostile tenant', () => {
  let t: TestApp;

  beforeAll(async () => { t = await startTestApp(); }, 60_000);
  afterAll(async () => { await t?.close(); });

  it('cannot pass the cap of 10 staged uploads by sending its creates all at once', async () => {
    const rush = await t.clientFor('staged-rush');
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) =>
      rush.data(CreateStagedUploadDocument, { input: { filename: `rush${i}.csv`, fileSize: 100 } })));
    const created = answers.filter((a) => a.createStagedUpload.stagedUpload !== null);
    expect(created.length).toBe(10);
    expect(answers.filter((a) => a.createStagedUpload.userErrors[0]?.code === 'IMPORT_IN_PROGRESS')).toHaveLength(20);
    const [row] = await t.app.db.query<{ n: number }>(
      "select count(*)::int as n from staged_uploads s join tenants t on t.id = s.tenant_id where t.name = 'staged-rush'");
    expect(row.n).toBe(10);
    // The refused ones' files do not stay behind in the spool either.
    expect(await spoolFiles(t.dataDir)).toHaveLength(10);
  });
});
