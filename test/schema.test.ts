/**
 * The schema as built equals the committed schema.graphql, and it holds the product's GraphQL
 * contract: every named type, field, argument and enum value, with the same types.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Kind, parse, type FieldDefinitionNode, type InputValueDefinitionNode, type TypeNode } from 'graphql';
import { schema } from '../src/api/graphql/index.js';

// printSchema must come from the graphql instance the schema was built with. Under vitest, Pothos
// (loaded by Node) has graphql's CommonJS build while `import 'graphql'` here gets its ESM build,
// and graphql refuses to mix the two; require() gives the CommonJS one.
const { printSchema, lexicographicSortSchema } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const ROOT = path.resolve(import.meta.dirname, '..');

/** The product's GraphQL contract, verbatim: the names clients rely on (docs/graphql.md explains them). */
const CONTRACT = /* GraphQL */ `
type Mutation {
  uploadImport(input: UploadImportInput!): ImportPayload!   # GraphQL multipart request spec
  importBatch(input: ImportBatchInput!): ImportPayload!     # synchronous, at most 5,000 records in the request
  importFromUrl(input: ImportFromUrlInput!): ImportPayload! # https:// or s3:// source
  cancelJob(id: ID!): JobPayload!
}
type Query {
  job(id: ID!): Job
  jobs(first: Int, after: String, last: Int, before: String, filter: JobFilter): JobConnection!
  node(id: ID!): Node
}
type Subscription {
  jobProgress(id: ID!): Job!   # current snapshot first, then updates, last the terminal state, then complete
}
input UploadImportInput {
  file: Upload!
  kind: ImportKind!
  collection: String          # COLLECTION only
  locationType: LocationType  # LOCATIONS only
  format: ImportFormat        # default: from the file name, then from the content
  encoding: TextEncoding      # real-world files: the text's encoding when not UTF-8
  sheet: String               # XLSX: default the first sheet
  dryRun: Boolean
  maxErrors: Int
  allowDuplicateFile: Boolean
}
input ImportBatchInput {
  kind: ImportKind!  collection: String  locationType: LocationType
  records: [JSON!]!           # at most 5,000
  dryRun: Boolean  maxErrors: Int
}
input ImportFromUrlInput {
  url: String!                # https://... or s3://bucket/key
  kind: ImportKind!  collection: String  locationType: LocationType  format: ImportFormat
  encoding: TextEncoding  sheet: String
  s3: S3SourceInput           # accessKeyId, secretAccessKey, region, endpoint (S3-compatible stores)
  dryRun: Boolean  maxErrors: Int  allowDuplicateFile: Boolean
}
input JobFilter { status: [JobStatus!], kind: [ImportKind!] }
type ImportPayload { job: Job, userErrors: [UserError!]! }   # Shopify style: job or errors
type JobPayload { job: Job, userErrors: [UserError!]! }
type UserError { code: UserErrorCode!, message: String!, field: [String!] }
enum UserErrorCode { IMPORT_IN_PROGRESS FILE_TOO_LARGE SCHEMA_MISMATCH INVALID_FILE DUPLICATE_FILE BATCH_TOO_LARGE INVALID_INPUT NOT_FOUND }
enum ImportKind { EVENTS USER_EVENTS USERS ORGANISATIONS LOCATIONS COLLECTION }
enum ImportFormat { CSV NDJSON XLSX }
enum TextEncoding { UTF8 UTF16LE UTF16BE WINDOWS_1252 ISO_8859_1 }
enum JobStatus { QUEUED RUNNING COMPLETED FAILED CANCELLED }
enum LocationType { STATE DISTRICT BLOCK CLUSTER }
type Job implements Node {
  id: ID!                       # Relay global id
  kind: ImportKind!  collection: String  format: ImportFormat!  status: JobStatus!  dryRun: Boolean!
  filename: String  fileSize: Float  bytesProcessed: Float!
  rowsTotal: Int  rowsProcessed: Int!  rowsImported: Int!  rowsCreated: Int!  rowsUpdated: Int!
  rowsDuplicate: Int!  rowsFailed: Int!  percentComplete: Float!  insertRate: Float
  createdAt: DateTime!  startedAt: DateTime  finishedAt: DateTime  elapsedSeconds: Float
  failureReason: String
  errors(first: Int, after: String): JobErrorConnection!   # JobError { line column value message }
  errorReportUrl: String        # CSV of failed rows: line, column, value, message, original row
  facets: [Facet!]!             # distinct values of a kind's key field, e.g. course_id: { field values }
}
`;

/** Named in the contract's prose and comments rather than in its SDL. */
const PROSE_FIELDS: Record<string, string[]> = {
  JobError: ['line', 'column', 'value', 'message'],
  Facet: ['field', 'values'],
  S3SourceInput: ['accessKeyId', 'secretAccessKey', 'region', 'endpoint'],
  JobConnection: ['edges', 'pageInfo', 'totalCount'],
  JobEdge: ['cursor', 'node'],
  PageInfo: ['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor'],
};

const typeString = (node: TypeNode): string =>
  node.kind === Kind.NON_NULL_TYPE ? `${typeString(node.type)}!`
    : node.kind === Kind.LIST_TYPE ? `[${typeString(node.type)}]`
      : node.name.value;

describe('schema.graphql', () => {
  it('is the schema the server builds', () => {
    const committed = fs.readFileSync(path.join(ROOT, 'schema.graphql'), 'utf8').trim();
    const built = printSchema(lexicographicSortSchema(schema)).trim();
    expect(built, 'schema.graphql is stale: run `npm run codegen` and commit schema.graphql').toBe(committed);
  });
});

describe('the GraphQL contract', () => {
  const contract = parse(CONTRACT);
  const actual = (name: string) => schema.getType(name);

  for (const def of contract.definitions) {
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION) {
      const name = def.name.value;
      it(`${name} has the contract's fields, arguments and types`, () => {
        const type = actual(name);
        expect(type, `type ${name}`).toBeDefined();
        const fields = (type as unknown as { getFields(): Record<string, { type: unknown; args?: { name: string; type: unknown }[] }> }).getFields();
        for (const field of (def.fields ?? []) as readonly (FieldDefinitionNode | InputValueDefinitionNode)[]) {
          const got = fields[field.name.value];
          expect(got, `${name}.${field.name.value}`).toBeDefined();
          expect(String(got.type), `type of ${name}.${field.name.value}`).toBe(typeString(field.type));
          for (const arg of ('arguments' in field ? field.arguments : undefined) ?? []) {
            const gotArg = got.args?.find((a) => a.name === arg.name.value);
            expect(gotArg, `argument ${name}.${field.name.value}(${arg.name.value})`).toBeDefined();
            expect(String(gotArg!.type), `type of ${name}.${field.name.value}(${arg.name.value})`).toBe(typeString(arg.type));
          }
        }
        if (def.kind === Kind.OBJECT_TYPE_DEFINITION) {
          const interfaces = (type as unknown as { getInterfaces(): { name: string }[] }).getInterfaces().map((i) => i.name);
          for (const i of def.interfaces ?? []) expect(interfaces, `${name} implements`).toContain(i.name.value);
        }
      });
    }
    if (def.kind === Kind.ENUM_TYPE_DEFINITION) {
      const name = def.name.value;
      it(`enum ${name} has exactly the contract's values`, () => {
        const type = actual(name) as unknown as { getValues(): { name: string }[] } | undefined;
        expect(type, `enum ${name}`).toBeDefined();
        expect(type!.getValues().map((v) => v.name).sort()).toEqual((def.values ?? []).map((v) => v.name.value).sort());
      });
    }
  }

  it('has the types and fields the contract names in prose', () => {
    for (const [name, names] of Object.entries(PROSE_FIELDS)) {
      const type = actual(name) as unknown as { getFields(): Record<string, unknown> } | undefined;
      expect(type, `type ${name}`).toBeDefined();
      expect(Object.keys(type!.getFields()), `fields of ${name}`).toEqual(expect.arrayContaining(names));
    }
    expect(String((actual('JobConnection') as unknown as { getFields(): Record<string, { type: unknown }> }).getFields().totalCount.type)).toBe('Int!');
    for (const scalar of ['Upload', 'JSON', 'DateTime']) expect(actual(scalar), `scalar ${scalar}`).toBeDefined();
    expect(String((actual('Node') as unknown as { getFields(): Record<string, { type: unknown }> }).getFields().id.type)).toBe('ID!');
  });
});
