import { JobDocument } from '../../src/generated/gql/graphql.js';
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
