import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run codegen`: prints the Pothos schema to schema.graphql (committed; a test fails when it
 * is stale) and writes typed documents for the operations in test/documents and src/client into
 * src/generated/gql, which the tests and the CLI import.
 */
const config: CodegenConfig = {
  schema: './src/api/graphql/index.ts',
  documents: ['test/documents/**/*.graphql', 'src/client/**/*.graphql'],
  ignoreNoDocuments: true,
  generates: {
    'schema.graphql': { plugins: ['schema-ast'], config: { includeDirectives: false } },
    'src/generated/gql/': {
      preset: 'client',
      config: { scalars: { DateTime: 'string', JSON: 'unknown', Upload: 'File' }, enumsAsTypes: true, useTypeImports: true },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
