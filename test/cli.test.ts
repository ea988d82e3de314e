/**
 * The client commands of `bulk-import`, run as a user runs them (`npx bulk-import ...` from the
 * repository, as the README says) in a child process against the real server.
 */
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

/** npm resolves `npx bulk-import` to package.json's bin, and never asks the registry for anything. */
const offlineNpm = { npm_config_offline: 'true', npm_config_update_notifier: 'false' };

/**
 * Runs package.json's bin, as `npx bulk-import` does; `npx: true` goes through npx itself (a
 * second or two slower: npm starts first).
 */
async function cli(args: string[], opts: { env?: NodeJS.ProcessEnv; npx?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, prefix] = opts.npx ? ['npx', ['bulk-import']] : [process.execPath, ['bin/bulk-import.js']];
  try {
    const { stdout, stderr } = await run(command, [...prefix, ...args], {
      env: { ...process.env, ...offlineNpm, BULK_IMPORT_URL: t.url, BULK_IMPORT_KEY: key, ...opts.env }, timeout: 60_000,
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
    // The job's error report itself (errorReportUrl), with its columns; a value that a
    // spreadsheet would run as a formula is neutralised.
    const [header, first, end, ...more] = errors.stdout.split('\r\n');
    expect([header, end, more]).toEqual(['line,column,value,message,row', '', []]);
    expect(first).toMatch(/^3,event_type,'=cmd\(\),"event_type must be one of identify_user, identify_company, page_view, track","\{/);
    const report = await fetch(`${t.url.replace(/\/graphql$/, '')}/jobs/${encodeURIComponent(job.id)}/errors.csv`, { headers: { authorization: `Bearer ${key}` } });
    expect(errors.stdout).toBe(await report.text());

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

  it('says the URL may lack its /graphql path when the server answers 404, and offers no --resume for a staged upload that never began', async () => {
    const origin = t.url.replace(/\/graphql$/, '');
    const jobs = await cli(['jobs', '--url', origin]);
    expect(jobs.code).toBe(2);
    expect(jobs.stderr).toContain(`HTTP 404 (is ${origin} the service's GraphQL endpoint? It ends in /graphql)`);
    const file = path.join(t.dataDir, 'small-staged.csv');
    await fs.writeFile(file, 'event_type,when\npage_view,now\n');
    const staged = await cli(['upload', file, '--kind', 'EVENTS', '--staged', '--url', origin]);
    expect(staged.code).toBe(2);
    expect(staged.stderr).toContain('/graphql');
    expect(staged.stderr).not.toContain('--resume');
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
    const { code, stderr } = await cli(['jobs'], { env: { BULK_IMPORT_KEY: '' } });
    expect(code).toBe(2);
    expect(stderr).toContain('make one with npx bulk-import keys create --tenant NAME');
  });
});

describe('invoking bulk-import as the README says', () => {
  it('is package.json\'s bin: an executable file with a node shebang, executable in git too', async () => {
    const pkg = JSON.parse(await fs.readFile('package.json', 'utf8'));
    expect(pkg.bin).toEqual({ 'bulk-import': 'bin/bulk-import.js' });
    // tsx runs the TypeScript sources, so a clone needs only `npm ci`: it must not be a dev dependency.
    expect(pkg.dependencies.tsx).toBeDefined();
    const bin = await fs.readFile(pkg.bin['bulk-import'], 'utf8');
    expect(bin.split('\n')[0]).toBe('#!/usr/bin/env node');
    expect((await fs.stat(pkg.bin['bulk-import'])).mode & 0o111).toBe(0o111);
    // A fresh clone gets the mode git holds, not the one on this disk.
    const { stdout } = await run('git', ['ls-files', '--stage', pkg.bin['bulk-import']]);
    expect(stdout).toMatch(/^100755 /);
  });

  it('`npx bulk-import --help` runs and names the command as the README does', async () => {
    const { code, stdout } = await cli(['--help'], { npx: true });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: npx bulk-import \[options\] \[command\]\n/);
    const keysHelp = await cli(['keys', 'create', '--help']);
    expect(keysHelp.stdout).toMatch(/^Usage: npx bulk-import keys create \[options\]\n/);
  });

  it('prints the first 10 row errors after its summary: line, column, value and reason', async () => {
    const file = path.join(t.dataDir, 'twelve-bad.csv');
    await fs.writeFile(file, eventsCsv(manyEvents(20).map((r, i) => (i < 12 ? { ...r, event_type: `bad-${i}` } : r))));
    const { code, stdout } = await cli(['upload', file, '--kind', 'EVENTS']);
    expect(code).toBe(1);
    const [summary, errors] = stdout.split('  row errors (the first 10 of 12):\n');
    expect(summary).toContain('20 processed, 8 imported, 12 failed');
    expect(errors).toBe(Array.from({ length: 10 }, (_, i) =>
      `    line ${i + 2}, event_type ("bad-${i}"): event_type must be one of identify_user, identify_company, page_view, track\n`).join(''));
  });

  it('takes a column mapping (--map, --save-mapping) and a delimiter', async () => {
    const file = path.join(t.dataDir, 'staff.csv');
    await fs.writeFile(file, 'Full Name|Phone|Staff No|Notes\nAsha Kumari|9845012345|KA-T-0001|x\nRavi Shankar|9845067890|KA-T-0002|\n');
    const refused = await cli(['upload', file, '--kind', 'USERS']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Phone: did you mean MOBILE PHONE?');
    const { code, stdout } = await cli(['upload', file, '--kind', 'USERS', '--delimiter', '|', '--map', 'Full Name=NAME', '--map', 'Phone=MOBILE PHONE',
      '--map', 'Staff No=External ID', '--map', 'Notes=', '--save-mapping', 'staff']);
    expect({ code, stdout }).toMatchObject({ code: 0, stdout: expect.stringContaining('records: 2 created, 0 updated') });
  });

  it('its hints are commands that run as printed: the summary\'s `errors` line, the next page of `jobs`', async () => {
    const file = path.join(t.dataDir, 'hint.csv');
    await fs.writeFile(file, eventsCsv([eventRow(0), eventRow(1, { event_type: 'nope' })]));
    const upload = await cli(['upload', file, '--kind', 'EVENTS']);
    expect(upload.code).toBe(1);
    const hint = upload.stdout.match(/see the failed rows: (.+)\n/)?.[1];
    expect(hint).toMatch(/^npx bulk-import errors \S+$/);
    const errors = await cli(hint!.split(' ').slice(2), { npx: true });
    expect(errors.code).toBe(0);
    expect(errors.stdout).toBe('line 3, event_type ("nope"): event_type must be one of identify_user, identify_company, page_view, track\n');

    const firstPage = await cli(['jobs', '--first', '1']);
    const next = firstPage.stdout.match(/next page: (.+)\n/)?.[1];
    expect(next).toMatch(/^npx bulk-import jobs --after \S+$/);
    const secondPage = await cli(next!.split(' ').slice(2).concat('--first', '1'));
    expect(secondPage.code).toBe(0);
    expect(secondPage.stdout).not.toBe(firstPage.stdout);
  });
});

describe('bulk-import upload --dry-run / revert', () => {
  it("a dry run's summary shows its counts; `revert ID --dry-run` tells what it would undo, `revert ID` undoes it, a second is refused", async () => {
    const file = path.join(t.dataDir, 'users.csv');
    await fs.writeFile(file, 'NAME,MOBILE PHONE,External ID\nAsha,9876500000,U-1\nRavi,9876500001,U-2\nBad,12,U-3\n');
    const dry = await cli(['upload', file, '--kind', 'USERS', '--dry-run']);
    expect(dry.stdout).toContain('(dry run)');
    expect(dry.stdout).toContain('dry run, nothing written: 3 rows checked, 2 would be imported, 1 failed');
    expect(dry.stdout).toContain('records it would write: 2 created, 0 updated, 0 unchanged');

    const real = await cli(['upload', file, '--kind', 'USERS', '--json']);
    const job = JSON.parse(real.stdout);
    expect(job).toMatchObject({ status: 'COMPLETED', rowsCreated: 2 });

    const preview = await cli(['revert', job.id, '--dry-run']);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toContain(`(revert of ${job.id}) (dry run)`);
    expect(preview.stdout).toContain('would undo: 2 of 2 rows, 0 in conflict');

    const revert = await cli(['revert', job.id]);
    expect(revert.code).toBe(0);
    expect(revert.stdout).toMatch(/: COMPLETED \(revert of /);
    expect(revert.stdout).toContain('undone: 2 of 2 rows, 0 in conflict');
    expect(await t.app.db.query("select 1 from users where external_id in ('U-1', 'U-2')")).toEqual([]);

    const again = await cli(['revert', job.id]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('INVALID_INPUT: This import has already been reverted');
  });
});
