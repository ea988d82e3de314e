/**
 * GraphQL at the wire level, for tests about what goes over it: every HTTP answer (status, headers,
 * body text) and every WebSocket message can be kept in a Transcript and searched afterwards, and
 * a raw graphql-transport-ws socket exposes what the graphql-ws client hides (close codes, error
 * messages per operation, the TCP socket for pausing reads).
 */
import http from 'node:http';
import { print, type DocumentNode } from 'graphql';
import WebSocket from 'ws';

/** Everything the server sent to a test, as text. */
export class Transcript {
  readonly texts: string[] = [];
  add(text: string): void { this.texts.push(text); }
  /** The entries that contain `needle`. */
  find(needle: string): string[] { return this.texts.filter((t) => t.includes(needle)); }
}

export interface RawResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  json: { data?: T | null; errors?: { message: string; extensions?: Record<string, unknown>; [k: string]: unknown }[] } | undefined;
}

const source = (query: string | DocumentNode) => (typeof query === 'string' ? query : print(query));

/** POSTs a GraphQL operation as JSON; `key` null sends no Authorization header. */
export async function postGraphql<T = Record<string, unknown>>(
  url: string,
  key: string | null,
  query: string | DocumentNode,
  variables?: Record<string, unknown>,
  opts: { transcript?: Transcript; operationName?: string; headers?: Record<string, string> } = {},
): Promise<RawResult<T>> {
  return postJson<T>(url, key, { query: source(query), variables, operationName: opts.operationName }, opts);
}

/** POSTs any JSON body (e.g. a batch) to the GraphQL endpoint. */
export async function postJson<T = Record<string, unknown>>(
  url: string,
  key: string | null,
  body: unknown,
  opts: { transcript?: Transcript; headers?: Record<string, string> } = {},
): Promise<RawResult<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...opts.headers },
    body: JSON.stringify(body),
  });
  return readResult<T>(res, opts.transcript);
}

export async function readResult<T>(res: Response, transcript?: Transcript): Promise<RawResult<T>> {
  const text = await res.text();
  transcript?.add(`${res.status} ${JSON.stringify([...res.headers])}\n${text}`);
  let json: RawResult<T>['json'];
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

export interface WsMessage { type: string; id?: string; payload?: any }

/**
 * A graphql-transport-ws connection driven by hand. `init` sends connection_init with the key
 * (null: never sends connection_init at all).
 */
export class RawGraphqlSocket {
  readonly ws: WebSocket;
  readonly messages: WsMessage[] = [];
  /** Bytes of every message received, in total. */
  bytes = 0;
  closed: { code: number; reason: string } | null = null;
  readonly opened: Promise<void>;
  private readonly waiters = new Set<() => void>();

  /** `headers`: extra headers on the upgrade request (a forged Host, a proxy's X-Forwarded-*). */
  constructor(wsUrl: string, key: string | null, private readonly transcript?: Transcript, headers?: Record<string, string>) {
    this.ws = new WebSocket(wsUrl, 'graphql-transport-ws', { headers });
    this.ws.on('message', (data: Buffer) => {
      this.bytes += data.length;
      const text = String(data);
      this.transcript?.add(text);
      this.messages.push(JSON.parse(text) as WsMessage);
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
    this.ws.on('error', () => { /* surfaces as a close */ });
    this.opened = new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => {
        if (key !== null) this.send({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } });
        resolve();
      });
      this.ws.once('close', () => reject(new Error(`socket closed before it opened: ${this.closed?.code}`)));
    });
    this.opened.catch(() => {});
  }

  private wake(): void { for (const w of [...this.waiters]) w(); }

  send(message: WsMessage): void { this.ws.send(JSON.stringify(message)); }

  /** Opens and waits for connection_ack (rejects if the socket closes instead). */
  async ready(timeoutMs = 10_000): Promise<this> {
    await this.opened;
    await this.until('connection_ack', () => this.messages.some((m) => m.type === 'connection_ack'), timeoutMs);
    return this;
  }

  subscribe(id: string, query: string | DocumentNode, variables?: Record<string, unknown>): void {
    this.send({ id, type: 'subscribe', payload: { query: source(query), variables } });
  }

  complete(id: string): void { this.send({ id, type: 'complete' }); }

  of(id: string): WsMessage[] { return this.messages.filter((m) => m.id === id); }

  /** Resolves once `probe` is true; rejects after `timeoutMs`, or when the socket closes first (unless waiting for the close). */
  until(what: string, probe: () => boolean, timeoutMs = 10_000, allowClosed = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (probe()) { done(); resolve(); return; }
        if (this.closed && !allowClosed) { done(); reject(new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}; got ${JSON.stringify(this.messages).slice(0, 500)}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.messages).slice(-500)}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits until operation `id` ends: its `complete` or `error` message. Returns its messages. */
  async settled(id: string, timeoutMs = 10_000): Promise<WsMessage[]> {
    await this.until(`the end of operation ${id}`, () => this.of(id).some((m) => m.type === 'complete' || m.type === 'error'), timeoutMs);
    return this.of(id);
  }

  /** Waits for the close and returns its code and reason. */
  async closedWith(timeoutMs = 10_000): Promise<{ code: number; reason: string }> {
    await this.until('the socket to close', () => this.closed !== null, timeoutMs, true);
    return this.closed!;
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
  }
}

/**
 * POSTs a GraphQL operation on a connection of its own (node:http, no keep-alive), so a failure
 * is the server's and never a reused connection closing under the request. Rejects with the
 * socket error (ECONNRESET...) if there is one.
 */
export function postGraphqlOnNewConnection<T = Record<string, unknown>>(url: string, key: string | null, query: string, variables?: Record<string, unknown>): Promise<{ status: number; text: string; json: RawResult<T>['json'] }> {
  const body = JSON.stringify({ query, variables });
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(key ? { authorization: `Bearer ${key}` } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: RawResult<T>['json'];
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}
