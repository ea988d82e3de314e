/**
 * `bulk-import upload` of a large file goes as a staged upload; killed half-way (SIGKILL), the
 * same command with --resume sends only the parts the server does not have (counted on the
 * server) and the import has every row once; refused for its options after every part arrived,
 * the corrected command with --resume imports the file sending nothing again.
 */
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsCsv, manyEvents } from './support/events.js';
import { jobUuid, waitForJob } from './support/jobs.js';
import { startTestApp, type TestApp } from './support/testApp.js';
import type { GraphQLTestClient } from './support/client.js';

const ROWS = 200_000;
const run = promisify(execFile);

describe('bulk-import upload, staged, killed and resumed', () => {
  let t: TestApp;
  let client: GraphQLTestClient;
  let env: NodeJS.ProcessEnv;
  let file: string;

  const received = async () => {
    const text = await (await fetch(t.url.replace('/graphql', '/metrics'))).text();
    return Number(/bulk_import_staged_part_puts_total\{outcome="received"\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  /** Runs the CLI with `args`, expected to fail: its exit code and what it wrote to stderr (null if it succeeded). */
  const failing = (...args: string[]) => run(process.execPath, ['bin/bulk-import.js', ...args], { env, timeout: 30_000 })
    .then(() => null, (err: { code: number; stderr: string }) => err);

  beforeAll(async () => {
    t = await startTestApp();
    client = await t.clientFor('cli-staged');
    env = { ...process.env, BULK_IMPORT_URL: t.url, BULK_IMPORT_KEY: client.key!, BULK_IMPORT_STATE_DIR: path.join(t.dataDir, 'state') };
    file = path.join(t.dataDir, 'large.csv');
    await fs.writeFile(file, eventsCsv(manyEvents(ROWS)));
  }, 60_000);
  afterAll(async () => { await t?.close(); });

  it('continues with --resume after a SIGKILL, sending only the missing parts', async () => {
    const size = (await fs.stat(file)).size;
    expect(size).toBeGreaterThan(32 << 20);
    const parts = Math.ceil(size / (8 << 20));
    const child = spawn(process.execPath, ['bin/bulk-import.js', 'upload', file, '--kind', 'EVENTS', '--parallel', '1', '--no-wait', '--json'], { env, stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let atKill = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      atKill = await received();
      if (atKill >= 2) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill('SIGKILL');
    await exited;
    expect(atKill).toBeGreaterThanOrEqual(2);
    expect(await received(), 'the CLI was killed before the last part').toBeLessThan(parts);

    const resumed = await run(process.execPath, ['bin/bulk-import.js', 'upload', file, '--kind', 'EVENTS', '--resume', '--no-wait', '--json'], { env, timeout: 60_000 });
    const job = JSON.parse(resumed.stdout) as { id: string };
    // Every part arrived exactly once, over the two runs: the resumed one sent none twice.
    expect(await received()).toBe(parts);
    expect(await fs.readdir(env.BULK_IMPORT_STATE_DIR!)).toEqual([]);
    const done = await waitForJob(client, job.id, 90_000);
    expect(done).toMatchObject({ status: 'COMPLETED', rowsImported: ROWS, rowsFailed: 0 });
    const [counted] = await t.app.db.query<{ n: number }>('select count(distinct line)::int as n from events where job_id = $1', [jobUuid(job.id)]);
    expect(counted.n).toBe(ROWS);
  }, 180_000);

  it('refused for its options with the file on the server: says so, and the command corrected with --resume imports it sending nothing again', async () => {
    const small = path.join(t.dataDir, 'wrong-kind.csv');
    await fs.writeFile(small, eventsCsv(manyEvents(1_000)));
    const refused = await failing('upload', small, '--kind', 'USERS', '--staged');
    expect(refused?.code).toBe(2);
    expect(refused?.stderr).toMatch(/The file stays on the server until \S+: run the command again with --resume \(its options corrected/);
    const partsBefore = await received();

    const resumed = await run(process.execPath, ['bin/bulk-import.js', 'upload', small, '--kind', 'EVENTS', '--resume', '--no-wait', '--json'], { env, timeout: 30_000 });
    const job = JSON.parse(resumed.stdout) as { id: string };
    expect(await received(), 'a part was sent again').toBe(partsBefore);
    expect(await fs.readdir(env.BULK_IMPORT_STATE_DIR!)).toEqual([]);
    expect(await waitForJob(client, job.id, 60_000)).toMatchObject({ status: 'COMPLETED', rowsImported: 1_000, rowsFailed: 0 });
  }, 90_000);

  it('--resume with nothing to continue says so', async () => {
    const other = path.join(t.dataDir, 'never-sent.csv');
    await fs.writeFile(other, eventsCsv(manyEvents(10)));
    const failed = await failing('upload', other, '--kind', 'EVENTS', '--resume');
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('Nothing to resume');
  });
});
