/**
 * The base of every absolute URL the service hands out (Job.errorReportUrl, and later staged
 * upload part URLs). A client's Host header never gets into one: it is PUBLIC_URL when set;
 * else, with TRUST_PROXY, what the proxy in front says (X-Forwarded-Proto and X-Forwarded-Host,
 * or the Host it passed on); else the address the server listens on.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidHost } from './requestTarget.js';

export interface PublicUrlSettings {
  /** PUBLIC_URL, without a trailing slash (config.ts). */
  publicUrl?: string;
  trustProxy: boolean;
  /** The configured listening host (HOST). */
  host: string;
}

/** `base` (no trailing slash, maybe a path prefix) followed by the route `path` (from its leading slash). */
export function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** A forwarded header's last value: the one the proxy next to us added when a chain appended several. */
function lastValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.at(-1) : header;
  return value?.split(',').at(-1)?.trim() || undefined;
}

function fromProxy(headers: IncomingHttpHeaders): string | undefined {
  const proto = lastValue(headers['x-forwarded-proto'])?.toLowerCase() ?? 'http';
  const host = lastValue(headers['x-forwarded-host']) ?? headers.host;
  if ((proto !== 'http' && proto !== 'https') || !host || !isValidHost(host)) return undefined;
  return `${proto}://${host}`;
}

/** Where the server listens: HOST (localhost for a wildcard address) and the bound port. */
export function listeningUrl(host: string, address: AddressInfo | string | null): string {
  const port = address && typeof address === 'object' ? address.port : undefined;
  const name = host === '' || host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return port === undefined ? `http://${name}` : `http://${name}:${port}`;
}

export function publicBaseUrl(settings: PublicUrlSettings, headers: IncomingHttpHeaders | undefined, address: AddressInfo | string | null): string {
  if (settings.publicUrl) return settings.publicUrl;
  const proxied = settings.trustProxy && headers ? fromProxy(headers) : undefined;
  return proxied ?? listeningUrl(settings.host, address);
}
