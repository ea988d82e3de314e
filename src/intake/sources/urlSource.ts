/**
 * Where importFromUrl reads its file: an https:// URL, or s3://bucket/key with the tenant's
 * credentials. `parseSource` checks the input before anything is fetched (and before the tenant's
 * limits are looked at); `openSource` then answers with the body as a stream and the file name to
 * detect the format from, or with a user error. Credentials live only in the SourceSpec for the
 * length of the request: nothing here logs, stores or repeats them, and messages show URLs
 * without their user:password or query string (see describeUrl).
 */
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { UserError } from '../userErrors.js';
import { describeUrl, refusedHost, sourceAgents, SourceError, watchedBody, type SourceSettings } from './network.js';
import { openS3Object, parseS3Source, type S3Credentials, type S3Spec } from './s3Source.js';
import { tooLargeMessage } from '../../spool/spool.js';

export type { S3Credentials } from './s3Source.js';

export type SourceSpec = { scheme: 'https'; url: URL; filename: string | null } | S3Spec;

export type Parsed<T> = { ok: true; value: T } | ({ ok: false } & UserError);
export type OpenedSource = { ok: true; stream: Readable } | ({ ok: false } & UserError);

const URL_FIELD = ['input', 'url'];
const S3_FIELD = ['input', 's3'];

const invalidUrl = (message: string): { ok: false } & UserError => ({ ok: false, code: 'INVALID_INPUT', message, field: URL_FIELD });

/** The last segment of a path, decoded: what the format is detected from, and the job's file name. */
export function filenameFromPath(path: string): string | null {
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (!last) return null;
  try { return decodeURIComponent(last); } catch { return last; }
}

export function parseSource(input: { url: string; s3?: S3Credentials | null }, settings: SourceSettings): Parsed<SourceSpec> {
  const raw = input.url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === 's3') return parseS3Source(raw, input.s3, settings);
  // Credentials meant for S3 must not be sent along to, or kept for, any other kind of URL.
  if (input.s3) return { ok: false, code: 'INVALID_INPUT', message: 's3 credentials are only for s3:// URLs', field: S3_FIELD };
  if (scheme === 'http' && !settings.allowInsecure) {
    return invalidUrl('url must use https:// (or be s3://bucket/key): plain http:// is not accepted, since the file would travel unencrypted');
  }
  if (scheme !== 'https' && scheme !== 'http') {
    return invalidUrl(scheme ? `url scheme "${scheme}:" is not supported: use https:// or s3://bucket/key` : 'url must be an https:// URL or s3://bucket/key');
  }
  let url: URL;
  try { url = new URL(raw); } catch { return invalidUrl('url is not a valid URL: use https://host/path or s3://bucket/key'); }
  const refused = refusedHost(url.hostname, settings);
  if (refused) return invalidUrl(refused);
  return { ok: true, value: { scheme: 'https', url, filename: filenameFromPath(url.pathname) } };
}

/** The source as messages show it: no credentials, no query string. */
export function describeSource(source: SourceSpec): string {
  return source.scheme === 's3' ? `s3://${source.bucket}/${source.key}` : describeUrl(source.url);
}

export async function openSource(source: SourceSpec, settings: SourceSettings): Promise<OpenedSource> {
  return source.scheme === 's3' ? openS3Object(source, settings) : openHttps(source.url, settings);
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** GET with redirects (at most MAX_REDIRECTS, each target checked like the URL itself), 2xx only. */
async function openHttps(start: URL, settings: SourceSettings): Promise<OpenedSource> {
  const agents = sourceAgents(settings);
  let url = start;
  for (let redirects = 0; ; redirects++) {
    let res: http.IncomingMessage;
    try {
      res = await get(url, settings.timeoutMs, agents);
    } catch (err) {
      return invalidUrl(`Could not fetch ${describeUrl(url)}: ${(err as Error).message}`);
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && location) {
      res.destroy(); // the redirect's own body is of no interest, and may never end: reading it would hold a connection for ever
      if (redirects === MAX_REDIRECTS) return invalidUrl(`${describeUrl(start)} redirected more than ${MAX_REDIRECTS} times`);
      let next: URL;
      try { next = new URL(location, url); } catch { return invalidUrl(`${describeUrl(url)} redirected to an invalid URL`); }
      const refusal = redirectRefusal(next, settings);
      if (refusal) return invalidUrl(`${describeUrl(url)} redirected to ${describeUrl(next)}, refused: ${refusal}`);
      url = next;
      continue;
    }
    if (status < 200 || status > 299) {
      res.destroy(); // as for a redirect: an error's body is not read
      return invalidUrl(`${describeUrl(url)} answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}; only a 2xx answer is imported`);
    }
    // gzip is recognised by its bytes as the file is spooled (intake/fileDecoding.ts); no other coding is.
    const coding = res.headers['content-encoding']?.trim().toLowerCase();
    if (coding && coding !== 'identity' && coding !== 'gzip' && coding !== 'x-gzip') {
      res.destroy();
      return invalidUrl(`${describeUrl(url)} answered with Content-Encoding: ${coding}; only gzip (or none) is read`);
    }
    const length = Number(res.headers['content-length']);
    if (Number.isFinite(length) && length > settings.maxBytes) {
      res.destroy(); // no need to download what would be refused
      return { ok: false, code: 'FILE_TOO_LARGE', message: tooLargeMessage(settings.maxBytes), field: URL_FIELD };
    }
    return { ok: true, stream: watchedBody(res, settings) };
  }
}

function redirectRefusal(next: URL, settings: SourceSettings): string | null {
  if (next.protocol !== 'https:' && !(next.protocol === 'http:' && settings.allowInsecure)) return 'not an https:// URL';
  return refusedHost(next.hostname, settings);
}

function get(url: URL, timeoutMs: number, agents: ReturnType<typeof sourceAgents>): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const secure = url.protocol === 'https:';
    const req = (secure ? https : http).get(url, {
      agent: secure ? agents.httpsAgent : agents.httpAgent,
      headers: { accept: 'text/csv, application/x-ndjson, application/json;q=0.9, */*;q=0.8', 'accept-encoding': 'gzip', 'user-agent': 'bulk-import' },
      timeout: timeoutMs,
    }, (res) => {
      req.setTimeout(0); // from here on the body's own idle timeout (watchedBody) watches
      resolve(res);
    });
    req.on('timeout', () => req.destroy(new SourceError(`no answer within ${timeoutMs / 1000} s`)));
    req.on('error', reject);
  });
}
