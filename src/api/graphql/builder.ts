/** Configures the Pothos builder, and nothing else: each type registers itself in its own file. */
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import type { FileUpload, Upload } from 'graphql-upload-minimal';
import type { AppContext } from '../context.js';
import { decodeIdArgument } from './globalIdArgs.js';
import { badUserInput } from './badUserInput.js';

const MAX_NODE_IDS = 100;

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
    // One node is loaded per id: a list as long as a page of jobs at most.
    nodesQueryOptions: {
      resolve: (_root, args, _ctx, _info, resolveNodes) => {
        if (args.ids.length > MAX_NODE_IDS) throw badUserInput(`nodes: at most ${MAX_NODE_IDS} ids`);
        return resolveNodes(args.ids);
      },
    },
  },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
