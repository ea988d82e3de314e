import { GraphQLError } from 'graphql';

/** Opaque cursors over a numeric keyset (`job:<seq>`, `error:<id>`), base64url-encoded. */
export function encodeCursor(prefix: string, key: number): string {
  return Buffer.from(`${prefix}:${key}`).toString('base64url');
}

export function decodeCursor(cursor: string, prefix: string): number {
  const [p, key] = Buffer.from(cursor, 'base64url').toString('utf8').split(':');
  const value = Number(key);
  if (p !== prefix || !Number.isSafeInteger(value)) {
    throw new GraphQLError('Invalid cursor', { extensions: { code: 'INVALID_INPUT' } });
  }
  return value;
}
