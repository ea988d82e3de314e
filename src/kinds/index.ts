import { events } from './events.js';
import { userEvents } from './userEvents.js';
import { collection } from './collection.js';
import { users } from './users.js';
import { organisations } from './organisations.js';
import { locations } from './locations.js';
import type { ImportKind } from './types.js';

/** Every kind the service imports, by its GraphQL ImportKind name. */
export const KINDS: Record<string, ImportKind> = {
  EVENTS: events,
  USER_EVENTS: userEvents,
  USERS: users,
  ORGANISATIONS: organisations,
  LOCATIONS: locations,
  COLLECTION: collection,
};

export function getKind(name: string): ImportKind {
  const kind = KINDS[name];
  if (!kind) throw new Error(`Import kind ${name} is not supported yet`);
  return kind;
}
