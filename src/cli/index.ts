#!/usr/bin/env node
/**
 * The `bulk-import` command. Server-side commands (serve, keys) work on the configured database;
 * client commands (upload, jobs, job, errors, webhooks) talk to a server over GraphQL.
 */
import { Command } from 'commander';
import { loadConfig } from '../config.js';
import { registerKeyCommands } from './keys.js';
import { registerClientCommands } from './client.js';
import { registerWebhookCommands } from './webhooks.js';
import { COMMAND_NAME } from './commandName.js';

const program = new Command();
program.name(COMMAND_NAME).description('Bulk-import service: server and client');
// A command that could not run (bad arguments, no key, server unreachable) exits 2; 1 is kept for
// a job that ran and failed. Set before the commands are added: they inherit it.
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

program.command('serve').description('Run the server (npm start)').action(async () => {
  const { serve } = await import('../main.js');
  await serve();
});

registerKeyCommands(program, loadConfig);
registerClientCommands(program);
registerWebhookCommands(program);

program.parseAsync(process.argv).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
