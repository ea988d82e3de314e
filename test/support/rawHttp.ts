/**
 * An HTTP request exactly as a test writes it (node:http, a connection of its own): any request
 * target (a malformed path, an absolute URL, `*`) and any Host header, which fetch() would not send.
 */
import http from 'node:http';

export interface RawHttpResult { status: number; text: string; json: any }

export function rawRequest(base: string, target: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawHttpResult> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path: target, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A GraphQL operation POSTed as JSON with these headers (a forged Host, X-Forwarded-*). */
export function rawGraphql(url: string, key: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<RawHttpResult> {
  const body = JSON.stringify({ query, variables });
  return rawRequest(url, new URL(url).pathname, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), authorization: `Bearer ${key}`, ...headers },
  });
}
