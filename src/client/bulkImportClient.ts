/**
 * A small client for the service, used by the CLI and usable from any Node program: JSON over
 * HTTP for queries, a streamed GraphQL multipart request for uploads (the file is never held in
 * memory), and graphql-ws for `jobProgress`.
 *
 *   const client = new BulkImportClient({ url: 'http://localhost:4000/graphql', key });
 *   const { job } = await client.upload('events.csv', { kind: 'EVENTS' }, (sent, total) => ...);
 *   const final = await client.follow(job.id, (snapshot) => console.log(snapshot.percentComplete));
 *
 * Large files (over STAGED_THRESHOLD_BYTES) are better sent with `uploadStaged`: in parts, a few
 * at once, each retried, and resumable after the client itself was stopped (stagedSender.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { print, type ExecutionResult } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ClientJobErrorReportDocument, ClientJobProgressDocument, ClientUploadImportDocument,
  type ClientJobFragment, type ClientUploadImportMutation, type UploadImportInput,
} from '../generated/gql/graphql.js';

import { sendStaged, type StagedImportResult, type StagedSendOptions } from './stagedSender.js';

export { StagedUploadError, type StagedSendOptions } from './stagedSender.js';

/** Past this size the CLI and the console send a file as a staged upload. */
export const STAGED_THRESHOLD_BYTES = 32 << 20;

export type JobSnapshot = ClientJobFragment;
export type UploadOptions = Omit<UploadImportInput, 'file'>;
export type UploadResult = ClientUploadImportMutation['uploadImport'];

export class BulkImportError extends Error {}

/**
 * The file is read into these buffers in turn, each read over once the socket has taken what it
 * held: a new buffer for every read costs the client garbage collection and kernel time in fresh
 * memory, a large share of its CPU for an upload (docs/performance.md).
 */
const SEND_BUFFERS = 4;
const SEND_BUFFER_BYTES = 1 << 20;

/** Writes head, the file and foot into the request; stops when the request is destroyed. */
async function sendFile(req: http.ClientRequest, file: string, head: Buffer, foot: Buffer, onSent: (sent: number) => void): Promise<void> {
  let handle: fs.promises.FileHandle | null = null;
  try {
    handle = await fs.promises.open(file);
    req.write(head);
    const buffers = Array.from({ length: SEND_BUFFERS }, () => Buffer.allocUnsafeSlow(SEND_BUFFER_BYTES));
    const taken: Promise<void>[] = buffers.map(() => Promise.resolve());
    let sent = 0;
    for (let i = 0; ; i = (i + 1) % SEND_BUFFERS) {
      await taken[i]; // the socket is done with this buffer (or the request failed)
      if (req.destroyed) return; // failed, or dropped once the server had answered
      const { bytesRead } = await handle.read(buffers[i], 0, SEND_BUFFER_BYTES, null);
      if (bytesRead === 0) break;
      taken[i] = new Promise((resolve) => { req.write(buffers[i].subarray(0, bytesRead), () => resolve()); });
      sent += bytesRead;
      onSent(sent);
    }
    req.end(foot);
  } catch (err) {
    // The file could not be read (a folder, no permission): the request fails with that error
    // rather than waiting for an end that never comes.
    req.destroy(err as Error);
  } finally {
    await handle?.close().catch(() => {});
  }
}

export class BulkImportClient {
  readonly url: string;
  private readonly key: string;

  constructor(opts: { url: string; key: string }) {
    this.url = opts.url;
    this.key = opts.key;
  }

  async request<T, V>(document: TypedDocumentNode<T, V>, variables?: V): Promise<T> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return this.readResult<T>(res.status, await res.text());
  }

  private readResult<T>(status: number, text: string): T {
    let body: ExecutionResult<T>;
    try { body = JSON.parse(text); } catch {
      // A 404 that is not GraphQL's answer is most often a URL without its /graphql path.
      const hint = status === 404 ? ` (is ${this.url} the service's GraphQL endpoint? It ends in /graphql)` : '';
      throw new BulkImportError(`HTTP ${status}${hint}: ${text.slice(0, 300)}`);
    }
    if (body.errors?.length) throw new BulkImportError(body.errors.map((e) => e.message).join('; '));
    if (status !== 200 || !body.data) throw new BulkImportError(`HTTP ${status}`);
    return body.data;
  }

  /**
   * Uploads a file (GraphQL multipart request) streamed from disk; `onSent` reports bytes sent.
   * Resolves to the queued job, or to the server's user errors.
   */
  async upload(file: string, options: UploadOptions, onSent?: (sent: number, total: number) => void): Promise<UploadResult> {
    const boundary = multipartBoundary();
    const operations = JSON.stringify({ query: print(ClientUploadImportDocument), variables: { input: { ...options, file: null } } });
    const part = (name: string, value: string) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const filename = path.basename(file).replace(/["\r\n]/g, '_');
    const head = Buffer.from(part('operations', operations) + part('map', JSON.stringify({ 0: ['variables.input.file'] }))
      + `--${boundary}\r\nContent-Disposition: form-data; name="0"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    const foot = Buffer.from(`\r\n--${boundary}--\r\n`);
    const size = (await fs.promises.stat(file)).size;

    const target = new URL(this.url);
    const req = (target.protocol === 'https:' ? https : http).request(target, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.key}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(head.length + size + foot.length),
      },
    });
    const response = new Promise<http.IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    });
    const sending = sendFile(req, file, head, foot, (sent) => onSent?.(sent, size));
    const res = await response;
    let text = '';
    for await (const chunk of res) text += chunk;
    // A server (or a proxy) that answers before it has read everything, a refusal, may then stop
    // reading: its answer counts, and the rest of the file is not sent.
    if (!req.writableFinished) req.destroy();
    await sending;
    return this.readResult<ClientUploadImportMutation>(res.statusCode ?? 0, text).uploadImport;
  }

  /**
   * Sends a file as a staged upload, parts in parallel, straight to storage when the service
   * spools to S3, and queues its import; with `stateFile`, a later call with `resume` continues it.
   */
  uploadStaged(file: string, options: UploadOptions, opts: StagedSendOptions = {}): Promise<StagedImportResult> {
    return sendStaged(this, file, options, opts);
  }

  /**
   * A job's error report (`errorReportUrl`: CSV of line, column, value, message, original row, in
   * line order) as the server streams it. `csv` is null when the job has no row errors.
   */
  async errorReport(jobId: string): Promise<{ found: boolean; csv: Readable | null }> {
    const { job } = await this.request(ClientJobErrorReportDocument, { id: jobId });
    if (!job) return { found: false, csv: null };
    if (!job.errorReportUrl) return { found: true, csv: null };
    const res = await fetch(job.errorReportUrl, { headers: { authorization: `Bearer ${this.key}` } });
    if (res.status !== 200 || !res.body) throw new BulkImportError(`HTTP ${res.status} for ${job.errorReportUrl}`);
    // fetch's body is the web stream of Node's own implementation; the DOM typing just does not say so.
    return { found: true, csv: Readable.fromWeb(res.body as WebReadableStream<Uint8Array>) };
  }

  /** Follows `jobProgress` until the job ends; resolves to its final state. */
  follow(jobId: string, onProgress?: (job: JobSnapshot) => void): Promise<JobSnapshot> {
    const ws = createClient({
      url: this.url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 3,
      connectionParams: { authorization: `Bearer ${this.key}` },
    });
    let last: JobSnapshot | null = null;
    return new Promise<JobSnapshot>((resolve, reject) => {
      ws.subscribe<{ jobProgress: JobSnapshot }>({ query: print(ClientJobProgressDocument), variables: { id: jobId } }, {
        next: (result) => {
          if (result.errors?.length) { reject(new BulkImportError(result.errors.map((e) => e.message).join('; '))); return; }
          last = result.data!.jobProgress;
          onProgress?.(last);
        },
        error: (err) => reject(err instanceof Error ? err : new BulkImportError(
          Array.isArray(err) ? err.map((e) => e.message).join('; ') : `connection closed (${(err as { code?: number }).code ?? 'unknown'})`)),
        complete: () => (last ? resolve(last) : reject(new BulkImportError('the subscription ended without a job'))),
      });
    }).finally(() => ws.dispose());
  }
}

/**
 * A multipart boundary of the longest length allowed (70), all capital letters but two hyphens,
 * which data files hold few of: the server finds the file's end with Boyer-Moore-Horspool
 * (busboy), which skips ahead by up to the boundary's length past bytes the boundary does not
 * hold; a hex boundary, shorter and of common bytes, is found more slowly (docs/performance.md).
 */
function multipartBoundary(): string {
  const random = [...randomBytes(58)].map((b) => String.fromCharCode(0x41 + (b % 26))).join('');
  return `BULK-IMPORT-${random}`;
}
