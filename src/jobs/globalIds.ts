/**
 * The ids clients see: Relay global ids ("Job:<uuid>", base64), encoded and decoded by Pothos'
 * relay plugin, as the schema does for `id` and `node`.
 */
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';

/** The one type whose ids clients hold (the schema's only Node). */
export const JOB_TYPENAME = 'Job';

export function jobGlobalId(jobId: string): string {
  return encodeGlobalID(JOB_TYPENAME, jobId);
}

/** The job uuid in a Job's global id; null for anything else (another type, garbage). */
export function jobIdFromGlobalId(globalId: string): string | null {
  try {
    const { typename, id } = decodeGlobalID(globalId);
    return typename === JOB_TYPENAME && id ? id : null;
  } catch {
    return null;
  }
}
