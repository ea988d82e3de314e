// Entry of a worker thread under tsx (see startThread.ts). A worker thread does not inherit tsx's
// loader, so it registers it here and then loads the TypeScript module it was started for, whose
// URL is its last argument.
import { tsImport } from 'tsx/esm/api';

await tsImport(process.argv.at(-1), import.meta.url);
