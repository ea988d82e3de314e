/**
 * The Standard Webhooks headers of one attempt: the message's id (the same on every attempt, so a
 * receiver can drop a repeat), the attempt's time in seconds (receivers refuse stale ones, which
 * defeats replays), and `v1,` + the base64 HMAC-SHA256 of "id.timestamp.body" under the secret.
 */
import { createHmac } from 'node:crypto';
import { signingKey } from './secretBox.js';

export function webhookHeaders(secret: string, messageId: string, body: string, now = new Date()): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const signature = createHmac('sha256', signingKey(secret)).update(`${messageId}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': messageId, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

/** The `webhook-id` of a message row: `msg_` and its uuid. */
export const messageIdOf = (id: string): string => `msg_${id.replaceAll('-', '')}`;
