/**
 * Starts a worker thread running one of our modules, compiled or not. Compiled (dist/), the thread
 * runs the module's .js itself; under tsx (tests, the CLI), a worker thread does not inherit the
 * loader, so it boots through threadBoot.mjs, which registers it first.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` is the module's path without extension, relative to `from` (the caller's import.meta.url). */
export function startThread(name: string, from: string, options: WorkerOptions = {}): Worker {
  const underTsx = from.endsWith('.ts');
  const module = new URL(`${name}${underTsx ? '.ts' : '.js'}`, from);
  if (!underTsx) return new Worker(module, options);
  return new Worker(new URL('./threadBoot.mjs', import.meta.url), { ...options, argv: [...(options.argv ?? []), module.href] });
}
