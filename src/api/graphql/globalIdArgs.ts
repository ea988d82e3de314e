/**
 * ID arguments (`job(id)`, `node(id)`): Relay global ids, decoded with the relay plugin's own
 * decoder, but refused as the client's error (BAD_USER_INPUT) without echoing what was sent.
 */
import { decodeGlobalID } from '@pothos/plugin-relay';
import { jobIdFromGlobalId } from '../../jobs/globalIds.js';
import { badUserInput } from './badUserInput.js';

// Our ids are some 50 characters; a longer one is not ours, and is refused before decoding.
const MAX_ID_LENGTH = 200;

/** For the builder (relay.decodeGlobalID): every globalID argument goes through here. */
export function decodeIdArgument(globalId: string): { typename: string; id: string } {
  try {
    if (globalId.length <= MAX_ID_LENGTH) return decodeGlobalID(globalId);
  } catch {
    // refused below
  }
  throw badUserInput('Invalid ID: use an id this service returned');
}

/** The job uuid of a `job(id)` argument. */
export function jobIdArgument(globalId: string, field: string): string {
  const id = globalId.length <= MAX_ID_LENGTH ? jobIdFromGlobalId(globalId) : null;
  if (!id) throw badUserInput(`${field}: id is not a Job id`);
  return id;
}
