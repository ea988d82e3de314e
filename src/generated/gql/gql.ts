/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation UploadImport($input: UploadImportInput!) {\n  uploadImport(input: $input) {\n    job {\n      ...JobFields\n    }\n    userErrors {\n      code\n      message\n      field\n    }\n  }\n}\n\nmutation CancelJob($id: ID!) {\n  cancelJob(id: $id) {\n    job {\n      ...JobFields\n    }\n    userErrors {\n      code\n      message\n      field\n    }\n  }\n}\n\nquery Job($id: ID!) {\n  job(id: $id) {\n    ...JobFields\n  }\n}\n\nquery JobErrors($id: ID!, $first: Int, $after: String) {\n  job(id: $id) {\n    id\n    errors(first: $first, after: $after) {\n      totalCount\n      edges {\n        cursor\n        node {\n          line\n          column\n          value\n          message\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}\n\nquery Jobs($first: Int, $after: String, $last: Int, $before: String, $filter: JobFilter) {\n  jobs(\n    first: $first\n    after: $after\n    last: $last\n    before: $before\n    filter: $filter\n  ) {\n    totalCount\n    edges {\n      cursor\n      node {\n        id\n        status\n        kind\n        filename\n        createdAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n  }\n}\n\nquery Node($id: ID!) {\n  node(id: $id) {\n    id\n    ... on Job {\n      status\n      kind\n    }\n  }\n}\n\nsubscription JobProgress($id: ID!) {\n  jobProgress(id: $id) {\n    ...JobFields\n  }\n}\n\nfragment JobFields on Job {\n  id\n  kind\n  format\n  status\n  dryRun\n  filename\n  fileSize\n  bytesProcessed\n  rowsTotal\n  rowsProcessed\n  rowsImported\n  rowsFailed\n  rowsDuplicate\n  percentComplete\n  insertRate\n  createdAt\n  startedAt\n  finishedAt\n  elapsedSeconds\n  failureReason\n}": typeof types.UploadImportDocument,
};
const documents: Documents = {
    "mutation UploadImport($input: UploadImportInput!) {\n  uploadImport(input: $input) {\n    job {\n      ...JobFields\n    }\n    userErrors {\n      code\n      message\n      field\n    }\n  }\n}\n\nmutation CancelJob($id: ID!) {\n  cancelJob(id: $id) {\n    job {\n      ...JobFields\n    }\n    userErrors {\n      code\n      message\n      field\n    }\n  }\n}\n\nquery Job($id: ID!) {\n  job(id: $id) {\n    ...JobFields\n  }\n}\n\nquery JobErrors($id: ID!, $first: Int, $after: String) {\n  job(id: $id) {\n    id\n    errors(first: $first, after: $after) {\n      totalCount\n      edges {\n        cursor\n        node {\n          line\n          column\n          value\n          message\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}\n\nquery Jobs($first: Int, $after: String, $last: Int, $before: String, $filter: JobFilter) {\n  jobs(\n    first: $first\n    after: $after\n    last: $last\n    before: $before\n    filter: $filter\n  ) {\n    totalCount\n    edges {\n      cursor\n      node {\n        id\n        status\n        kind\n        filename\n        createdAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n  }\n}\n\nquery Node($id: ID!) {\n  node(id: $id) {\n    id\n    ... on Job {\n      status\n      kind\n    }\n  }\n}\n\nsubscription JobProgress($id: ID!) {\n  jobProgress(id: $id) {\n    ...JobFields\n  }\n}\n\nfragment JobFields on Job {\n  id\n  kind\n  format\n  status\n  dryRun\n  filename\n  fileSize\n  bytesProcessed\n  rowsTotal\n  rowsProcessed\n  rowsImported\n  rowsFailed\n  rowsDuplicate\n  percentComplete\n  insertRate\n  createdAt\n  startedAt\n  finishedAt\n  elapsedSeconds\n  failureReason\n}": types.UploadImportDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UploadImport($input: UploadImportInput!) {\n  uploadImport(input: $input) {\n    job {\n      ...JobFields\n    }\n    userErrors {\n      code\n      message\n      field\n    }\n  }\n}\n\nmutation CancelJob($id: ID!) {\n  cancelJob(id: $id) {\n    job {\n      ...JobFields\n    }\n    userErrors {\n      code\n      message\n      field\n    }\n  }\n}\n\nquery Job($id: ID!) {\n  job(id: $id) {\n    ...JobFields\n  }\n}\n\nquery JobErrors($id: ID!, $first: Int, $after: String) {\n  job(id: $id) {\n    id\n    errors(first: $first, after: $after) {\n      totalCount\n      edges {\n        cursor\n        node {\n          line\n          column\n          value\n          message\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}\n\nquery Jobs($first: Int, $after: String, $last: Int, $before: String, $filter: JobFilter) {\n  jobs(\n    first: $first\n    after: $after\n    last: $last\n    before: $before\n    filter: $filter\n  ) {\n    totalCount\n    edges {\n      cursor\n      node {\n        id\n        status\n        kind\n        filename\n        createdAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n  }\n}\n\nquery Node($id: ID!) {\n  node(id: $id) {\n    id\n    ... on Job {\n      status\n      kind\n    }\n  }\n}\n\nsubscription JobProgress($id: ID!) {\n  jobProgress(id: $id) {\n    ...JobFields\n  }\n}\n\nfragment JobFields on Job {\n  id\n  kind\n  format\n  status\n  dryRun\n  filename\n  fileSize\n  bytesProcessed\n  rowsTotal\n  rowsProcessed\n  rowsImported\n  rowsFailed\n  rowsDuplicate\n  percentComplete\n  insertRate\n  createdAt\n  startedAt\n  finishedAt\n  elapsedSeconds\n  failureReason\n}"): (typeof documents)["mutation UploadImport($input: UploadImportInput!) {\n  uploadImport(input: $input) {\n    job {\n      ...JobFields\n    }\n    userErrors {\n      code\n      message\n      field\n    }\n  }\n}\n\nmutation CancelJob($id: ID!) {\n  cancelJob(id: $id) {\n    job {\n      ...JobFields\n    }\n    userErrors {\n      code\n      message\n      field\n    }\n  }\n}\n\nquery Job($id: ID!) {\n  job(id: $id) {\n    ...JobFields\n  }\n}\n\nquery JobErrors($id: ID!, $first: Int, $after: String) {\n  job(id: $id) {\n    id\n    errors(first: $first, after: $after) {\n      totalCount\n      edges {\n        cursor\n        node {\n          line\n          column\n          value\n          message\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n    }\n  }\n}\n\nquery Jobs($first: Int, $after: String, $last: Int, $before: String, $filter: JobFilter) {\n  jobs(\n    first: $first\n    after: $after\n    last: $last\n    before: $before\n    filter: $filter\n  ) {\n    totalCount\n    edges {\n      cursor\n      node {\n        id\n        status\n        kind\n        filename\n        createdAt\n      }\n    }\n    pageInfo {\n      hasNextPage\n      hasPreviousPage\n      startCursor\n      endCursor\n    }\n  }\n}\n\nquery Node($id: ID!) {\n  node(id: $id) {\n    id\n    ... on Job {\n      status\n      kind\n    }\n  }\n}\n\nsubscription JobProgress($id: ID!) {\n  jobProgress(id: $id) {\n    ...JobFields\n  }\n}\n\nfragment JobFields on Job {\n  id\n  kind\n  format\n  status\n  dryRun\n  filename\n  fileSize\n  bytesProcessed\n  rowsTotal\n  rowsProcessed\n  rowsImported\n  rowsFailed\n  rowsDuplicate\n  percentComplete\n  insertRate\n  createdAt\n  startedAt\n  finishedAt\n  elapsedSeconds\n  failureReason\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;