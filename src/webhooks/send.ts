/**
 * One delivery attempt over HTTP: a POST of the message's body with its Standard Webhooks
 * headers. The address rules are applied again here, where the connection is made (the agents'
 * lookup refuses a name that now resolves to a private address). Redirects are not followed (the
 * receiver's answer is the answer), the attempt is bounded in time, and only a short prefix of the
 * response body is kept, for the delivery log.
 */
import http from 'node:http';
import https from 'node:https';
import { sourceAgents } from '../intake/sources/network.js';
import type { AttemptResult } from './deliveryStore.js';
import { urlProblem, type AddressRules } from './webhookUrl.js';

export interface SendSettings extends AddressRules {
  /** Connecting, the answer and its body prefix must all come within this. */
  timeoutMs: number;
  /** Extra CA certificates (SOURCE_CA_FILE) to trust besides Node's. */
  caFile?: string;
}

/** How much of a receiver's answer the delivery log keeps. */
export const RESPONSE_PREFIX_BYTES = 1024;

export async function sendWebhook(target: string, headers: Record<string, string>, body: string, settings: SendSettings): Promise<AttemptResult> {
  const attemptedAt = new Date();
  const started = performance.now();
  const done = (r: Omit<AttemptResult, 'attemptedAt' | 'durationMs'>): AttemptResult => ({ ...r, attemptedAt, durationMs: Math.round(performance.now() - started) });
  let url: URL;
  try { url = new URL(target); } catch { return done({ succeeded: false, responseStatus: null, responseBody: null, error: 'the webhook URL is not valid' }); }
  const problem = urlProblem(url, settings);
  if (problem) return done({ succeeded: false, responseStatus: null, responseBody: null, error: problem });
  try {
    const { status, prefix } = await post(url, headers, body, settings);
    const succeeded = status >= 200 && status <= 299;
    const error = succeeded ? null : status >= 300 && status <= 399 ? `HTTP ${status}: redirects are not followed` : `HTTP ${status}`;
    return done({ succeeded, responseStatus: status, responseBody: prefix, error });
  } catch (err) {
    return done({ succeeded: false, responseStatus: null, responseBody: null, error: describeError(err) });
  }
}

function post(url: URL, headers: Record<string, string>, body: string, settings: SendSettings): Promise<{ status: number; prefix: string }> {
  const { httpAgent, httpsAgent } = sourceAgents({ allowInsecure: settings.allowInsecure, allowPrivate: settings.allowPrivate, caFile: settings.caFile, timeoutMs: settings.timeoutMs, deadlineMs: settings.timeoutMs, maxBytes: 0 });
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, {
      method: 'POST',
      agent: secure ? httpsAgent : httpAgent,
      headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'bulk-import-webhooks' },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        clearTimeout(deadline);
        res.destroy();
        resolve({ status: res.statusCode ?? 0, prefix: Buffer.concat(chunks).subarray(0, RESPONSE_PREFIX_BYTES).toString('utf8').replaceAll('\0', '') });
      };
      res.on('data', (chunk: Buffer) => {
        if (size < RESPONSE_PREFIX_BYTES) chunks.push(chunk);
        size += chunk.length;
        if (size >= RESPONSE_PREFIX_BYTES) finish();
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    // One bound on the whole attempt: a receiver that answers a byte at a time is no better than one that never answers.
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${settings.timeoutMs / 1000} s`)), settings.timeoutMs);
    req.on('error', (err) => { clearTimeout(deadline); reject(err); });
    req.end(body);
  });
}

/** An attempt's error in words for the log: Node's code and message, never the request's headers. */
function describeError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message;
}
