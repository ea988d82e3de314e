/**
 * The part URLs of a folder spool point at the service itself (PUT /staged/<id>/parts/<n>), and
 * carry their own authority like S3's presigned URLs: an expiry and an HMAC-SHA256 over upload,
 * part and expiry, keyed by the upload's own random key, which lives in its database row (so any
 * instance of a fleet checks any URL, and one upload's URL opens nothing else).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const newSigningKey = () => randomBytes(32).toString('hex');

export const partPath = (uploadId: string, part: number) => `/staged/${uploadId}/parts/${part}`;

const PART_PATH = /^\/staged\/([0-9a-f-]{36})\/parts\/([1-9][0-9]{0,4})$/;

export function parsePartPath(path: string): { uploadId: string; part: number } | null {
  const match = PART_PATH.exec(path);
  return match ? { uploadId: match[1], part: Number(match[2]) } : null;
}

function signature(key: string, uploadId: string, part: number, expires: number): string {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(`${uploadId}.${part}.${expires}`).digest('hex');
}

/** The query string of a part URL valid until `expiresAt`. */
export function signedPartQuery(key: string, uploadId: string, part: number, expiresAt: Date): string {
  const expires = Math.floor(expiresAt.getTime() / 1000);
  return `expires=${expires}&sig=${signature(key, uploadId, part, expires)}`;
}

/** Whether the URL's query was signed with `key` for this upload and part, and has not expired. */
export function partQueryValid(key: string, uploadId: string, part: number, query: URLSearchParams, now = Date.now()): boolean {
  const expires = Number(query.get('expires'));
  const sig = query.get('sig') ?? '';
  if (!Number.isSafeInteger(expires) || expires * 1000 < now || !/^[0-9a-f]{64}$/.test(sig)) return false;
  return timingSafeEqual(Buffer.from(sig, 'hex'), Buffer.from(signature(key, uploadId, part, expires), 'hex'));
}
