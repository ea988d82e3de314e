/**
 * The network side of importFromUrl, shared by its https and S3 sources. A source URL is the
 * tenant's choice, and the server fetches it from inside our network, so unless
 * ALLOW_PRIVATE_SOURCE_ADDRESSES is on, a source may only reach public addresses: IP literals are
 * checked here, host names where they resolve, in the agents' `lookup`, so the address checked is
 * the address connected to (a name that resolves to a public address for the check and to a
 * private one for the connection cannot slip through).
 */
import dns from 'node:dns';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { pipeline, Transform, type Readable } from 'node:stream';
import tls from 'node:tls';

export interface SourceSettings {
  /** Plain http:// URLs and S3 endpoints too (ALLOW_INSECURE_SOURCE_URLS). */
  allowInsecure: boolean;
  /** Loopback, private and link-local addresses too (ALLOW_PRIVATE_SOURCE_ADDRESSES). */
  allowPrivate: boolean;
  /** Connecting, the answer, and each next chunk of the body must come within this. */
  timeoutMs: number;
  /** The whole body must have come within this (SOURCE_DEADLINE_MS). */
  deadlineMs: number;
  /** Extra CA certificates (PEM) to trust, besides Node's own. */
  caFile?: string;
  /** MAX_FILE_SIZE: a source announcing more is refused before its body is read. */
  maxBytes: number;
}

/** Why a source could not be read, in words for the tenant (never with credentials in them). */
export class SourceError extends Error {}

const NOT_PUBLIC = new net.BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(network, prefix, 'ipv4');
// IPv6 forms that carry an IPv4 address are refused whole rather than judged by the address they
// carry: IPv4-compatible (::/96, also :: and ::1), NAT64 (the well-known prefix and RFC 8215's
// local-use one, which reaches the IPv4 network behind a local translator), 6to4 (2002::/16) and
// IPv4-translated (SIIT, ::ffff:0:0:0/96); besides them, site-local (fec0::/10: deprecated, yet
// still routed inside older networks).
for (const [network, prefix] of [
  ['::', 96], ['::ffff:0:0:0', 96], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001:db8::', 32], ['2002::', 16],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC.addSubnet(network, prefix, 'ipv6');

/** Loopback, private, link-local (cloud metadata services live there), CGNAT, multicast or reserved. */
export function isPrivateAddress(address: string): boolean {
  const family = net.isIP(address);
  if (family === 0) return false;
  // BlockList matches an IPv4-mapped IPv6 address (::ffff:127.0.0.1) against the IPv4 rules.
  return NOT_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why a URL's host may not be connected to, or null. Only IP literals can be judged before the lookup. */
export function refusedHost(hostname: string, settings: Pick<SourceSettings, 'allowPrivate'>): string | null {
  const bare = hostname.replace(/^\[(.*)\]$/, '$1');
  if (!settings.allowPrivate && isPrivateAddress(bare)) return `${hostname} is a loopback or private address, which this service may not connect to`;
  return null;
}

/**
 * dns.lookup, given up after `timeoutMs` with a SourceError that says the name did not resolve.
 * getaddrinfo runs on libuv's threadpool and cannot be cancelled: a resolver that never answers
 * would leave the fetch waiting on it, and the tenant reading "no answer" as if the source had
 * been reached. The thread itself stays taken until the system resolver gives up; only the
 * request is freed.
 */
export function lookupWithin(timeoutMs: number, hostname: string, options: dns.LookupAllOptions, callback: (err: Error | null, addresses: dns.LookupAddress[]) => void): void {
  let settled = false;
  const timer = setTimeout(() => {
    settled = true;
    callback(new SourceError(`${hostname} did not resolve within ${timeoutMs / 1000} s`), []);
  }, timeoutMs);
  timer.unref();
  dns.lookup(hostname, options, (err, addresses) => {
    if (settled) return;
    clearTimeout(timer);
    callback(err, addresses);
  });
}

/**
 * The agents' lookup: bounded by the source's timeout, and (unless private addresses are allowed)
 * refusing a name if any of its addresses is not public (with several answers, the connection may
 * go to any of them).
 */
function sourceLookup(settings: Pick<SourceSettings, 'allowPrivate' | 'timeoutMs'>): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (err: Error | null, address: string | dns.LookupAddress[], family?: number) => void) => {
    lookupWithin(settings.timeoutMs, hostname, { ...options, all: true }, (err, addresses) => {
      if (err) { callback(err, ''); return; }
      const refused = settings.allowPrivate ? undefined : addresses.find((a) => isPrivateAddress(a.address));
      if (refused) {
        callback(new SourceError(`${hostname} resolves to a loopback or private address (${refused.address}), which this service may not connect to`), '');
        return;
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  }) as unknown as net.LookupFunction;
}

const caCache = new Map<string, string>();

/** Agents for one source fetch: no keep-alive (each import is one download), the bounded lookup with the address rule, the extra CA. */
export function sourceAgents(settings: SourceSettings): { httpAgent: http.Agent; httpsAgent: https.Agent } {
  const lookup = sourceLookup(settings);
  let ca: string[] | undefined;
  if (settings.caFile) {
    let pem = caCache.get(settings.caFile);
    if (pem === undefined) {
      pem = fs.readFileSync(settings.caFile, 'utf8');
      caCache.set(settings.caFile, pem);
    }
    ca = [...tls.rootCertificates, pem];
  }
  return { httpAgent: new http.Agent({ lookup }), httpsAgent: new https.Agent({ lookup, ca }) };
}

/**
 * The source's body, failing with a SourceError when the source sends nothing for `settings.timeoutMs`,
 * or has not sent it all within `settings.deadlineMs` (a stalled server, or one that sends a byte
 * now and then, must not hold the request, and the tenant's import slot, forever). Destroying the
 * result destroys the source, which closes its connection.
 */
export function watchedBody(source: Readable, settings: Pick<SourceSettings, 'timeoutMs' | 'deadlineMs'>): Readable {
  const ms = settings.timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const guard = new Transform({
    transform(chunk, _enc, done) { arm(); done(null, chunk); },
    flush(done) { clearTimeout(timer); done(); },
  });
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => guard.destroy(new SourceError(`the source sent no data for ${ms / 1000} s`)), ms);
    timer.unref();
  };
  const deadline = setTimeout(() => guard.destroy(new SourceError(`the source had not sent the whole file after ${settings.deadlineMs / 1000} s`)), settings.deadlineMs);
  deadline.unref();
  guard.on('close', () => { clearTimeout(timer); clearTimeout(deadline); });
  // Errors reach the reader through `guard`; pipeline only ties the two streams' ends together.
  pipeline(source, guard, () => {});
  arm();
  return guard;
}

/** A URL as it may be shown or logged: no user:password, no query string (presigned URLs carry their signature there). */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
