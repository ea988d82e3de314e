import { events } from './events.js';
import { userEvents } from './userEvents.js';
import { collection } from './collection.js';
import type { ImportKind } from './types.js';

/** Every kind the service imports, by its GraphQL ImportKind name. */
export const KINDS: Record<string, ImportKind> = {
  EVENTS: events,
  USER_EVENTS: userEvents,
  COLLECTION: collection,
};

export function getKind(name: string): ImportKind {
  const kind = KINDS[name];
  if (!kind) throw new Error(`Import kind ${name} is not supported yet`);
  return kind;
}
