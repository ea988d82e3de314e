/**
 * Where a tenant may have its webhooks sent: the same rules as importFromUrl's sources (https
 * only, and no loopback, private or link-local address, unless ALLOW_INSECURE_SOURCE_URLS and
 * ALLOW_PRIVATE_SOURCE_ADDRESSES say otherwise). Checked here when the webhook is created, the
 * host name by looking it up, and again at each delivery where the connection is made
 * (send.ts), since a name may resolve elsewhere later (DNS rebinding).
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { isPrivateAddress, refusedHost } from '../intake/sources/network.js';

export interface AddressRules { allowInsecure: boolean; allowPrivate: boolean }

const MAX_URL_LENGTH = 2000;

/** The URL to keep, or why it is refused (in words for the tenant). */
export async function checkWebhookUrl(raw: string, rules: AddressRules): Promise<{ ok: true; url: string } | { ok: false; message: string }> {
  const refuse = (message: string) => ({ ok: false as const, message });
  const text = raw.trim();
  if (text.length > MAX_URL_LENGTH) return refuse(`url is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try { url = new URL(text); } catch { return refuse('url is not a valid URL: use https://host/path'); }
  const problem = urlProblem(url, rules);
  if (problem) return refuse(problem);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!rules.allowPrivate && net.isIP(host) === 0) {
    let addresses: { address: string }[];
    try {
      addresses = await dns.lookup(host, { all: true });
    } catch {
      return refuse(`url's host ${host} could not be resolved`);
    }
    const refused = addresses.find((a) => isPrivateAddress(a.address));
    if (refused) return refuse(`${host} resolves to a loopback or private address (${refused.address}), which this service may not connect to`);
  }
  return { ok: true, url: url.toString() };
}

/** What is wrong with a URL as a webhook's address, before any lookup; null when nothing is. */
export function urlProblem(url: URL, rules: AddressRules): string | null {
  if (url.protocol === 'http:' && !rules.allowInsecure) return 'url must use https://: plain http:// is not accepted, since deliveries would travel unencrypted';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'url must be an https:// URL';
  if (url.username || url.password) return 'url must not carry a user or password: verify deliveries by their signature instead';
  return refusedHost(url.hostname, rules);
}
