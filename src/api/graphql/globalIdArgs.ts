/**
 * ID arguments (`job(id)`, `node(id)`): Relay global ids, decoded with the relay plugin's own
 * decoder, but refused as the client's error (BAD_USER_INPUT) without echoing what was sent.
 */
import { decodeGlobalID } from '@pothos/plugin-relay';
import { JOB_TYPENAME, jobIdFromGlobalId, STAGED_UPLOAD_TYPENAME, stagedUploadIdFromGlobalId } from '../../jobs/globalIds.js';
import { badUserInput } from './badUserInput.js';

// Our ids are some 50 characters; a longer one is not ours, and is refused before decoding.
const MAX_ID_LENGTH = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * For the builder (relay.decodeGlobalID): every globalID argument goes through here. Only a Job's
 * or a StagedUpload's id gets through: the relay plugin's own answers to another type name ("Query does not support
 * loading by id", "... but got Enum", "X has not been implemented") would tell a client which
 * types the schema has, with introspection off, and none of them is the client's error code.
 */
export function decodeIdArgument(globalId: string): { typename: string; id: string } {
  try {
    if (globalId.length <= MAX_ID_LENGTH) {
      const decoded = decodeGlobalID(globalId);
      if (decoded.typename === JOB_TYPENAME || decoded.typename === STAGED_UPLOAD_TYPENAME) return decoded;
    }
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

/** The staged upload uuid of a `stagedUpload(id)` or `stagedUploadId` argument. */
export function stagedUploadIdArgument(globalId: string, field: string): string {
  const id = globalId.length <= MAX_ID_LENGTH ? stagedUploadIdFromGlobalId(globalId) : null;
  if (!id || !UUID.test(id)) throw badUserInput(`${field}: id is not a StagedUpload id`);
  return id;
}
