/**
 * GraphQL multipart requests written by hand over node:http, for the tests that need what fetch
 * won't do: malformed bodies, chunked transfer without Content-Length, bodies sent in pieces, and
 * uploads cut off half-way.
 */
import http from 'node:http';
import net from 'node:net';
import { print } from 'graphql';
import { UploadImportDocument } from '../../src/generated/gql/graphql.js';

export const BOUNDARY = 'bulkImportTestBoundary7MA4YWxkTrZu0gW';

export const part = (name: string, value: string, boundary = BOUNDARY) =>
  `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;

export const fileHead = (name: string, filename: string, boundary = BOUNDARY) =>
  `--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: text/csv\r\n\r\n`;

export const closing = (boundary = BOUNDARY) => `--${boundary}--\r\n`;

/** The `operations` part of an uploadImport of kind EVENTS (the file variable null, as the spec says). */
export const uploadOperations = (input: Record<string, unknown> = {}) =>
  JSON.stringify({ query: print(UploadImportDocument), variables: { input: { kind: 'EVENTS', ...input, file: null } } });

export const uploadMap = JSON.stringify({ 0: ['variables.input.file'] });

/** operations + map + the file's part head: everything of an upload that comes before the file's bytes. */
export const uploadHead = (filename = 'events.csv') => part('operations', uploadOperations()) + part('map', uploadMap) + fileHead('0', filename);

/** A whole upload of `file` as pieces to send one by one (with `pauseMs`, a slow client): its head, the file in `count` slices, its end. */
export function uploadInPieces(file: Buffer, filename: string, count: number): Buffer[] {
  const step = Math.ceil(file.length / count);
  const slices: Buffer[] = [];
  for (let at = 0; at < file.length; at += step) slices.push(file.subarray(at, at + step));
  return [Buffer.from(uploadHead(filename)), ...slices, Buffer.from(`\r\n${closing()}`)];
}

/** A whole, well-formed upload body. */
export const uploadBody = (content: string, filename = 'events.csv') => `${uploadHead(filename)}${content}\r\n${closing()}`;

export interface MultipartAnswer {
  status: number;
  text: string;
  json: { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] } | undefined;
  /** The answer's head came before the last piece was written: the server answered without waiting for the rest. */
  answeredEarly: boolean;
  /** How many of the pieces had been written when the answer's head came. */
  piecesWritten: number;
  headers: http.IncomingHttpHeaders;
}

export interface SendOptions {
  key: string | null;
  /** Sent as they are, one write each; with `chunked` no Content-Length is sent. */
  pieces: (string | Buffer)[];
  chunked?: boolean;
  /** Waits this long between pieces. */
  pauseMs?: number;
  contentType?: string;
  /** E.g. a keep-alive agent, to send many requests over a few connections. */
  agent?: http.Agent;
  /** Rejects when no whole answer came within this long (a hung request). */
  timeoutMs?: number;
  /** Stops writing once the answer's head has come (a client that reads while it sends). */
  stopWhenAnswered?: boolean;
}

/** POSTs a multipart body and resolves with the answer. */
export function sendMultipart(url: string, opts: SendOptions): Promise<MultipartAnswer> {
  const bodies = opts.pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
  const headers: Record<string, string> = {
    'content-type': opts.contentType ?? `multipart/form-data; boundary=${BOUNDARY}`,
    ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
    ...(opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(bodies.reduce((n, b) => n + b.length, 0)) }),
  };
  let sent = false;
  let answered = false;
  let written = 0;
  let timer: NodeJS.Timeout | undefined;
  return new Promise<MultipartAnswer>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers, agent: opts.agent }, (res) => {
      answered = true;
      const answeredEarly = !sent;
      const piecesWritten = written;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: MultipartAnswer['json'];
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, text, json, answeredEarly, piecesWritten, headers: res.headers });
        if (!sent && opts.stopWhenAnswered) req.destroy(); // the rest is not sent
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`no answer within ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
    }
    (async () => {
      for (const [i, body] of bodies.entries()) {
        if (opts.stopWhenAnswered && answered) break;
        if (i > 0 && opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
        if (!req.write(body)) await new Promise((r) => req.once('drain', r));
        written = i + 1;
      }
      if (opts.stopWhenAnswered && answered) return;
      sent = true;
      req.end();
    })().catch(reject);
  }).finally(() => clearTimeout(timer));
}

/**
 * Starts an upload, writes `pieces`, and returns the request without ending it; the caller cuts
 * it off with `destroy()`.
 */
export function startUpload(url: string, key: string, pieces: (string | Buffer)[]): http.ClientRequest {
  const req = http.request(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'transfer-encoding': 'chunked' },
  });
  req.on('error', () => { /* we cut it off ourselves */ });
  req.on('response', (res) => res.resume());
  for (const p of pieces) req.write(p);
  return req;
}

/**
 * Writes `bytes` as they are to a new connection (for what node:http won't send: a broken
 * chunked encoding, a body shorter than its Content-Length) and resolves with the status of the
 * answer, or null when the connection closed without one. `halfClose` ends our side after
 * writing, as a client that has nothing more to send.
 */
export function sendRawHttp(port: number, bytes: Buffer, opts: { halfClose?: boolean; timeoutMs?: number } = {}): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer or close within ${opts.timeoutMs ?? 10_000} ms`)); }, opts.timeoutMs ?? 10_000);
    let over = false;
    const done = () => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      const head = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'));
      resolve(head ? Number(head[1]) : null);
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One answer is all we wait for; the server may keep the connection open after it.
      if (/\r\n\r\n/.test(Buffer.concat(chunks).toString('latin1'))) { socket.destroy(); done(); }
    });
    socket.on('error', () => { /* a reset after the answer, or instead of one */ });
    socket.on('close', done);
    socket.on('connect', () => {
      socket.write(bytes);
      if (opts.halfClose) socket.end();
    });
  });
}
