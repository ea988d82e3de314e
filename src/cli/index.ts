#!/usr/bin/env node
/**
 * The `bulk-import` command. Server-side commands (serve, keys) work on the configured database;
 * client commands (upload, jobs, job, errors) talk to a server over GraphQL.
 */
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { registerKeyCommands } from './keys.js';
import { registerClientCommands } from './client.js';

const program = new Command();
program.name('bulk-import').description('Bulk-import service: server and client');

program.command('serve').description('Run the server (npm start)').action(async () => {
  const { serve } = await import('../main.js');
  await serve();
});

registerKeyCommands(program, loadConfig);
registerClientCommands(program);

program.parseAsync(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
