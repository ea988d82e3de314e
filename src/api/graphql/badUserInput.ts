import { GraphQLError } from 'graphql';

/**
 * An argument the client got wrong (a page size out of range, a malformed cursor or id, an
 * oversized filter): a GraphQL error with code BAD_USER_INPUT, never a masked "Unexpected error."
 * Messages name the argument and what it may be; they never echo the value back, which could be large.
 */
export function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}
