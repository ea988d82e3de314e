import fs from 'node:fs/promises';
import path from 'node:path';
import { JobDocument, JobsDocument, type JobFilter } from '../../src/generated/gql/graphql.js';
import { isSpare } from '../../src/spool/spoolSpares.js';
import type { GraphQLTestClient } from './client.js';

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** Polls `job(id)` until the job ends (tests that follow progress use the subscription instead). */
export async function waitForJob(client: GraphQLTestClient, id: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { job } = await client.data(JobDocument, { id });
    if (!job) throw new Error(`job ${id} not found`);
    if (TERMINAL.has(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How many jobs the client's tenant has (optionally filtered), as `jobs.totalCount` says. */
export async function jobCount(client: GraphQLTestClient, filter?: JobFilter): Promise<number> {
  const { jobs } = await client.data(JobsDocument, { first: 1, filter });
  return jobs.totalCount;
}

async function spoolFolder(dataDir: string): Promise<string[]> {
  try {
    return (await fs.readdir(path.join(dataDir, 'spool'))).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** The uploads in the app's spool folder (none if the folder doesn't exist yet); spares aside. */
export async function spoolFiles(dataDir: string): Promise<string[]> {
  return (await spoolFolder(dataDir)).filter((name) => !isSpare(name));
}

/** The spares in the app's spool folder: completed uploads' files kept for later ones to write over. */
export async function spareFiles(dataDir: string): Promise<string[]> {
  return (await spoolFolder(dataDir)).filter(isSpare);
}

/** The database id (uuid) inside a Job's Relay global id. */
export function jobUuid(globalId: string): string {
  const [typename, id] = Buffer.from(globalId, 'base64').toString('utf8').split(':');
  if (typename !== 'Job' || !id) throw new Error(`not a Job global id: ${globalId}`);
  return id;
}
