/**
 * What every HTTP request must be before a route or Yoga sees it: its target a path (origin-form)
 * in valid percent-encoding, its Host header (if any) a host name or address with an optional
 * port. Anything else is the client's error, a BadRequest the router answers with 400: routes can
 * then decode the path, and Yoga build the request's URL, without a malformed one becoming a 500.
 */
import type { IncomingMessage } from 'node:http';

export class BadRequest extends Error {
  constructor(message: string, readonly status = 400) {
    super(message);
    this.name = 'BadRequest';
  }
}

// A registered name (letters, digits, - . _), an IPv4 address, or an IPv6 literal in brackets.
const HOST = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** A Host or X-Forwarded-Host value we would put in a URL. */
export function isValidHost(value: string): boolean {
  return HOST.test(value);
}

const decodedPaths = new WeakMap<IncomingMessage, string>();

/** The request's path, percent-decoded, without its query string; a BadRequest when it is malformed. */
export function requestPath(req: IncomingMessage): string {
  const known = decodedPaths.get(req);
  if (known !== undefined) return known;
  const raw = (req.url ?? '/').split('?')[0];
  if (!raw.startsWith('/')) throw new BadRequest('The request target must be a path, like /graphql');
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    throw new BadRequest('The request path is not valid percent-encoding: % must be followed by two hex digits encoding UTF-8');
  }
  decodedPaths.set(req, path);
  return path;
}

/** Throws a BadRequest for a request no route should see. */
export function checkRequest(req: IncomingMessage): void {
  requestPath(req);
  const host = req.headers.host;
  if (host !== undefined && !isValidHost(host)) throw new BadRequest('The Host header must be a host name or address, with an optional :port');
}
