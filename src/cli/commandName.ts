/**
 * How a user runs the command, as the README says: from a clone of the repository, after
 * `npm ci`, `npx bulk-import` runs package.json's bin (bin/bulk-import.js). The usage lines and
 * every hint that names a command say it this way, so a hint can be pasted as it is.
 */
export const COMMAND_NAME = 'npx bulk-import';

/** A command line to suggest, e.g. `commandLine('errors', id)`. */
export const commandLine = (...args: string[]) => [COMMAND_NAME, ...args].join(' ');
