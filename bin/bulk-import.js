#!/usr/bin/env node
// `bulk-import`: runs the TypeScript CLI (src/cli/index.ts) in this process through tsx's loader,
// so a clone needs no build step, and the CLI's own signal handling (Ctrl-C stops `serve`
// gracefully) and exit codes are what the caller gets.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/index.ts');
