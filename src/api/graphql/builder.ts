/** Configures the Pothos builder, and nothing else: each type registers itself in its own file. */
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import type { FileUpload, Upload } from 'graphql-upload-minimal';
import type { AppContext } from '../context.js';
import { decodeIdArgument } from './globalIdArgs.js';

export const builder = new SchemaBuilder<{
  Context: AppContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    Upload: { Input: Promise<FileUpload> | Upload; Output: never };
  };
  DefaultFieldNullability: false;
}>({
  plugins: [RelayPlugin],
  defaultFieldNullability: false,
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    decodeGlobalID: decodeIdArgument,
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
