/**
 * The ids clients see: Relay global ids ("Job:<uuid>", base64), encoded and decoded by Pothos'
 * relay plugin, as the schema does for `id` and `node`.
 */
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';

/** The types whose ids clients hold (the schema's Nodes). */
export const JOB_TYPENAME = 'Job';
export const STAGED_UPLOAD_TYPENAME = 'StagedUpload';

export function jobGlobalId(jobId: string): string {
  return encodeGlobalID(JOB_TYPENAME, jobId);
}

/** The uuid in a global id of `typename`; null for anything else (another type, garbage). */
function idFromGlobalId(globalId: string, typename: string): string | null {
  try {
    const decoded = decodeGlobalID(globalId);
    return decoded.typename === typename && decoded.id ? decoded.id : null;
  } catch {
    return null;
  }
}

/** The job uuid in a Job's global id; null for anything else (another type, garbage). */
export const jobIdFromGlobalId = (globalId: string) => idFromGlobalId(globalId, JOB_TYPENAME);

export const stagedUploadIdFromGlobalId = (globalId: string) => idFromGlobalId(globalId, STAGED_UPLOAD_TYPENAME);
