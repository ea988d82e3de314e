/**
 * The architecture rules `npm test` checks (test/architecture.test.ts): no import rings between
 * files, and the parse and hash threads never load the database layer or Drizzle (each thread
 * would pay for loading them, and the threads must not touch the database).
 */
module.exports = {
  forbidden: [
    {
      name: 'no-rings',
      severity: 'error',
      comment: 'An import ring between files: split out what both sides need.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'threads-stay-off-the-database',
      severity: 'error',
      comment: 'A worker thread (parse, hash) reaches src/db or drizzle-orm.',
      from: { path: '^src/(parse/parseThread|spool/hashThread)\\.ts$' },
      to: { path: '^(src/db/|node_modules/drizzle-orm/)', reachable: true },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      // a package of TypeScript types only, with nothing to resolve at run time
      to: { couldNotResolve: true, pathNot: '^@graphql-typed-document-node/core$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};
