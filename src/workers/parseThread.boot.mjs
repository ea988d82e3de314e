// Entry of the parse thread. A worker thread does not inherit tsx's loader, so it registers it
// here and then loads the TypeScript module that does the work.
import { tsImport } from 'tsx/esm/api';

await tsImport('./parseThread.ts', import.meta.url);
