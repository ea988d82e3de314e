/**
 * vitest globalSetup: one real S3 store (a single-node Ceph radosgw, scripts/radosgw.sh) for the
 * whole test run, its settings (S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
 * S3_BUCKET) put in the environment the test workers inherit. Where radosgw is not installed the
 * store is not started and s3Store() says why; in CI it must be: CI installs it (.ci/run).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/radosgw.sh');

async function installed(): Promise<boolean> {
  return run('sh', ['-c', 'command -v radosgw']).then(() => true, () => false);
}

export default async function setup(): Promise<() => Promise<void>> {
  if (!(await installed())) {
    if (process.env.CI) throw new Error('radosgw is not installed: the S3 spool tests need it (apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw)');
    process.env.RADOSGW_MISSING = 'radosgw is not installed (apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw)';
    return async () => {};
  }
  const parent = await mkdtemp(path.join(os.tmpdir(), 'radosgw-'));
  const dir = path.join(parent, 'ceph');
  const { stdout } = await run(SCRIPT, ['start', dir], { timeout: 60_000 });
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) process.env[line.slice(0, at)] = line.slice(at + 1);
  }
  return async () => {
    await run(SCRIPT, ['stop', dir], { timeout: 30_000 });
    await rm(parent, { recursive: true, force: true });
  };
}
