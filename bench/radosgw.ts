/**
 * The S3 store for `npm run bench -- --spool s3`: the one S3_ENDPOINT and S3_BUCKET name (with the
 * SDK's usual AWS_* credentials), or else a local single-node radosgw the run starts with
 * scripts/radosgw.sh in its work folder and stops at its end.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from './serverProcess.js';

const run = promisify(execFile);

export interface BenchStore { endpoint: string; bucket: string; env: Record<string, string> }

export async function startRadosgw(workDir: string, cleanup: { add(what: string, fn: () => Promise<void>): void }): Promise<BenchStore> {
  const given = process.env;
  if (given.S3_ENDPOINT && given.S3_BUCKET) return { endpoint: given.S3_ENDPOINT, bucket: given.S3_BUCKET, env: { S3_ENDPOINT: given.S3_ENDPOINT } };
  const script = path.join(REPO_ROOT, 'scripts/radosgw.sh');
  const dir = path.join(workDir, 'radosgw');
  const { stdout } = await run(script, ['start', dir], { timeout: 120_000 });
  cleanup.add('stop radosgw', async () => { await run(script, ['stop', dir], { timeout: 30_000 }); });
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1);
  }
  const { S3_BUCKET: bucket, ...serverEnv } = env;
  return { endpoint: env.S3_ENDPOINT, bucket, env: serverEnv };
}
