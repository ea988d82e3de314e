/** The client commands of `bulk-import`, run as a user runs them: a child process against the real server. */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventRow, eventsCsv, manyEvents } from './support/events.js';
import { startTestApp, type TestApp } from './support/testApp.js';

const run = promisify(execFile);
let t: TestApp;
let key: string;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', ...args], {
      env: { ...process.env, BULK_IMPORT_URL: t.url, BULK_IMPORT_KEY: key }, timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  t = await startTestApp();
  key = (await t.clientFor('cli')).key!;
});
afterAll(() => t?.close());

describe('bulk-import upload / jobs / job / errors', () => {
  it('uploads a clean file, follows it to the end, prints the summary and exits 0', async () => {
    const file = path.join(t.dataDir, 'clean.csv');
    await fs.writeFile(file, eventsCsv(manyEvents(500)));
    const { code, stdout } = await cli(['upload', file, '--kind', 'events']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/: COMPLETED\n/);
    expect(stdout).toContain('500 processed, 500 imported, 0 failed');
  });

  it('exits 1 when rows failed, and `errors --csv` lists them by line', async () => {
    const file = path.join(t.dataDir, 'bad.ndjson');
    const rows = manyEvents(5);
    rows[2] = eventRow(2, { event_type: '=cmd()' });
    await fs.writeFile(file, rows.map((r) => JSON.stringify({ ...r, metadata: {}, event_name: undefined, screen_width: undefined, screen_height: undefined })).join('\n'));
    const upload = await cli(['upload', file, '--kind', 'EVENTS', '--json']);
    expect(upload.code).toBe(1);
    const job = JSON.parse(upload.stdout);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsImported: 4, rowsFailed: 1 });

    const errors = await cli(['errors', job.id, '--csv']);
    expect(errors.code).toBe(0);
    // A value that a spreadsheet would run as a formula is neutralised.
    expect(errors.stdout).toBe("line,column,value,message\n3,event_type,'=cmd(),\"event_type must be one of identify_user, identify_company, page_view, track\"\n");

    const shown = await cli(['job', job.id, '--json']);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: job.id, rowsFailed: 1 });
    const list = await cli(['jobs', '--json', '--first', '1']);
    expect(JSON.parse(list.stdout)).toMatchObject({ totalCount: 2, edges: [{ node: { id: job.id } }] });
  });

  it('exits 2, not 1, when the command could not run: a missing option, an unreachable server', async () => {
    const missing = await cli(['upload', 'x.csv']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--kind <kind>' not specified");
    const unreachable = await cli(['jobs', '--url', 'http://127.0.0.1:1/graphql']);
    expect(unreachable.code).toBe(2);
  });

  it('exits 2 with the user error when the upload is refused', async () => {
    const file = path.join(t.dataDir, 'wrong.csv');
    await fs.writeFile(file, 'event_type,when\npage_view,now\n');
    const { code, stderr } = await cli(['upload', file, '--kind', 'EVENTS']);
    expect(code).toBe(2);
    expect(stderr).toContain('SCHEMA_MISMATCH');
    expect(stderr).toContain('inserted_at');
  });

  it('says how to get a key when there is none', async () => {
    const { code, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/index.ts', 'jobs'], {
      env: { ...process.env, BULK_IMPORT_URL: t.url, BULK_IMPORT_KEY: '' },
    }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    expect(code).not.toBe(0);
    expect(stderr).toContain('keys create');
  });
});
