/**
 * A connection's arguments, checked before they reach a query: opaque cursors over a numeric
 * keyset (`job:<seq>`, `error:<id>`, base64url-encoded) and page sizes.
 */
import { badUserInput } from './badUserInput.js';

export function encodeCursor(prefix: string, key: number): string {
  return Buffer.from(`${prefix}:${key}`).toString('base64url');
}

// Our cursors are a few dozen characters; a longer one is not ours, and is refused before decoding.
const MAX_CURSOR_LENGTH = 100;
const KEY = /^\d{1,15}$/;

export function decodeCursor(cursor: string, prefix: string): number {
  const decoded = cursor.length <= MAX_CURSOR_LENGTH ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const key = decoded.startsWith(`${prefix}:`) ? decoded.slice(prefix.length + 1) : '';
  if (!KEY.test(key)) throw badUserInput('Invalid cursor: use a cursor from this list\'s edges or pageInfo');
  return Number(key);
}

/**
 * How many nodes a page holds: `first` (or `last`), `defaultSize` when neither is given. Outside
 * 0..maxSize the request is refused rather than quietly cut, so a client never mistakes a
 * shortened page for the end of the list.
 */
export function pageSize(args: { first?: number | null; last?: number | null }, field: string, sizes: { defaultSize: number; maxSize: number }): number {
  for (const name of ['first', 'last'] as const) {
    const value = args[name];
    if (value != null && (value < 0 || value > sizes.maxSize)) {
      throw badUserInput(`${field}: ${name} must be between 0 and ${sizes.maxSize}`);
    }
  }
  return args.first ?? args.last ?? sizes.defaultSize;
}
