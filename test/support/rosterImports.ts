/** Roster imports for the changes and revert tests: upload a file, wait for its job, read its outcomes and errors. */
import { expect } from 'vitest';
import {
  JobErrorsDocument, JobOutcomesDocument, UploadImportDocument, type ImportKind, type UploadImportInput,
} from '../../src/generated/gql/graphql.js';
import type { GraphQLTestClient } from './client.js';
import { waitForJob } from './jobs.js';

export type ImportOptions = Omit<UploadImportInput, 'file' | 'kind'>;

export const csv = (...lines: string[]) => lines.join('\n') + '\n';

export async function jobOutcomes(client: GraphQLTestClient, id: string) {
  const { job } = await client.data(JobOutcomesDocument, { id, first: 1000 });
  return job!.outcomes.edges.map((e) => e.node);
}

export async function jobErrors(client: GraphQLTestClient, id: string) {
  const { job } = await client.data(JobErrorsDocument, { id, first: 1000 });
  return job!.errors.edges.map((e) => e.node);
}

/** Imports a file and returns the finished job, its outcomes and its errors. */
export async function importFile(client: GraphQLTestClient, kind: ImportKind, name: string, content: string, options: ImportOptions = {}) {
  const { body } = await client.upload(UploadImportDocument, { input: { kind, allowDuplicateFile: true, ...options } }, { name, content });
  expect(body.data!.uploadImport.userErrors).toEqual([]);
  const job = await waitForJob(client, body.data!.uploadImport.job!.id);
  return { job, outcomes: await jobOutcomes(client, job.id), errors: await jobErrors(client, job.id) };
}
