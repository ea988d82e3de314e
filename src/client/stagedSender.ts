/**
 * Sends a file as a staged upload (createStagedUpload, a PUT per part, importStagedUpload): parts
 * read from disk and sent a few at once, each retried with backoff on a network error or a 5xx,
 * and fresh URLs asked for when they are refused (expired). A small state file remembers the
 * upload, so a client that was killed continues with the parts the server does not have yet
 * (stagedUpload says which) instead of starting again.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  ClientCreateStagedUploadDocument, ClientImportStagedUploadDocument, ClientStagedUploadDocument,
  type ClientImportStagedUploadMutation, type ImportStagedUploadInput,
} from '../generated/gql/graphql.js';

export type StagedImportOptions = Omit<ImportStagedUploadInput, 'stagedUploadId'>;
export type StagedImportResult = ClientImportStagedUploadMutation['importStagedUpload'] & {
  /** Refused, and the file stays on the server until then, remembered in the state file: --resume imports it without sending it again. */
  resumableUntil?: string;
};

interface Requester { readonly url: string; request<T, V>(document: TypedDocumentNode<T, V>, variables?: V): Promise<T> }

export interface StagedSendOptions {
  /** Parts in flight at once. */
  parallel?: number;
  /** Attempts per part before the upload gives up (the state file keeps what arrived). */
  attempts?: number;
  /** Where to remember the upload, to continue it after the client was stopped; none: not remembered. */
  stateFile?: string | null;
  /** Continue the upload the state file remembers for this file, if it is still there. */
  resume?: boolean;
  /** Bytes that have arrived (whole parts and parts under way). */
  onSent?: (sent: number, total: number) => void;
  /** Each part PUT that the server took. */
  onPart?: (part: number) => void;
}

/** What the state file holds: enough to tell it is the same file, to the same service. */
interface SavedUpload { service: string; file: string; size: number; mtimeMs: number; stagedUploadId: string }

interface Part { number: number; url: string; received: boolean }
interface Staged { id: string; partSize: number; parts: Part[] }

export class StagedUploadError extends Error {}

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readSaved(stateFile: string): Promise<SavedUpload | null> {
  try {
    return JSON.parse(await fs.promises.readFile(stateFile, 'utf8')) as SavedUpload;
  } catch {
    return null; // none, or unreadable: a new upload
  }
}

/** How long a part PUT waits for `100 Continue` before it sends the body anyway (a server that ignores Expect). */
const CONTINUE_WAIT_MS = 1000;

/**
 * PUTs bytes [start, start + length) of the file; resolves to the answer's status. `onBytes`
 * counts what left. With `Expect: 100-continue`, a refused URL (403) or length (400) is answered
 * before the body goes, not by a connection closed under the client's writes.
 */
/** A refused part's answer: its status, and the service's own words for it when it gave some. */
interface PartAnswer { status: number; reason: string | null }

/** How much of a refusal's plain-text body is read for its reason (the service's are one line; a store's are XML). */
const REASON_BYTES = 500;

/** The service's reason for a refusal: its plain-text body, on one line, when it is short; none otherwise (the console's reasonOf, src/console/stagedUpload.js, reads it alike). */
function reasonOf(contentType: string | undefined, body: string): string | null {
  const text = body.trim();
  return contentType?.startsWith('text/plain') && text && text.length < REASON_BYTES && !text.includes('\n') ? text : null;
}

function putPart(url: string, file: string, start: number, length: number, onBytes: (n: number) => void): Promise<PartAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = (target.protocol === 'https:' ? https : http).request(target, {
      method: 'PUT', headers: { 'content-length': String(length), expect: '100-continue' },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { if (body.length < REASON_BYTES) body += chunk; });
      res.once('end', () => {
        if (!sending) req.destroy(); // answered before the body went: the request is over
        resolve({ status: res.statusCode ?? 0, reason: reasonOf(res.headers['content-type'], body) });
      });
      res.once('error', reject);
    });
    let sending = false;
    const send = () => {
      if (sending || req.destroyed) return;
      sending = true;
      const body = fs.createReadStream(file, { start, end: start + length - 1, highWaterMark: 1 << 20 });
      body.on('data', (chunk) => onBytes(chunk.length));
      body.once('error', (err) => req.destroy(err));
      body.pipe(req);
    };
    const late = setTimeout(send, CONTINUE_WAIT_MS);
    req.once('continue', () => { clearTimeout(late); send(); });
    req.once('response', () => clearTimeout(late));
    req.once('close', () => clearTimeout(late));
    req.flushHeaders();
  });
}

export async function sendStaged(client: Requester, file: string, options: StagedImportOptions, opts: StagedSendOptions = {}): Promise<StagedImportResult> {
  const parallel = Math.max(1, opts.parallel ?? 4);
  const attempts = Math.max(1, opts.attempts ?? 6);
  const stat = await fs.promises.stat(file);
  const absolute = path.resolve(file);
  const same = (s: SavedUpload | null) => s && s.service === client.url && s.file === absolute && s.size === stat.size && s.mtimeMs === stat.mtimeMs;

  let staged: Staged | null = null;
  if (opts.resume && opts.stateFile) {
    const saved = await readSaved(opts.stateFile);
    if (!same(saved)) throw new StagedUploadError(`Nothing to resume for ${file}: no unfinished upload of this file is remembered (${opts.stateFile})`);
    staged = (await client.request(ClientStagedUploadDocument, { id: saved!.stagedUploadId })).stagedUpload ?? null;
    if (!staged) throw new StagedUploadError('The upload is no longer on the server (it expired, or was imported: bulk-import jobs lists it); send the file again without --resume');
  }
  if (!staged) {
    const created = (await client.request(ClientCreateStagedUploadDocument, {
      input: { filename: path.basename(file), fileSize: stat.size, sha256: await fileSha256(file), allowDuplicateFile: options.allowDuplicateFile },
    })).createStagedUpload;
    if (!created.stagedUpload) return { job: null, userErrors: created.userErrors };
    staged = created.stagedUpload;
    if (opts.stateFile) {
      const saved: SavedUpload = { service: client.url, file: absolute, size: stat.size, mtimeMs: stat.mtimeMs, stagedUploadId: staged.id };
      await fs.promises.mkdir(path.dirname(opts.stateFile), { recursive: true });
      await fs.promises.writeFile(opts.stateFile, JSON.stringify(saved));
    }
  }

  const upload = staged;
  const urls = new Map(upload.parts.map((p) => [p.number, p.url]));
  const lengthOf = (n: number) => Math.min(upload.partSize, stat.size - (n - 1) * upload.partSize);
  let sent = upload.parts.filter((p) => p.received).reduce((sum, p) => sum + lengthOf(p.number), 0);
  opts.onSent?.(sent, stat.size);
  const queue = upload.parts.filter((p) => !p.received).map((p) => p.number);
  let refreshing: Promise<void> | null = null;
  const refreshUrls = () => (refreshing ??= client.request(ClientStagedUploadDocument, { id: upload.id }).then(({ stagedUpload }) => {
    if (!stagedUpload) throw new StagedUploadError('The upload expired on the server before all its parts were sent');
    for (const p of stagedUpload.parts) urls.set(p.number, p.url);
  }).finally(() => { refreshing = null; }));

  const sendPart = async (n: number) => {
    for (let attempt = 1; ; attempt++) {
      let counted = 0;
      const { status, reason } = await putPart(urls.get(n)!, file, (n - 1) * upload.partSize, lengthOf(n), (bytes) => {
        counted += bytes;
        opts.onSent?.(sent + counted, stat.size);
      }).catch((): PartAnswer => ({ status: 0, reason: null }));
      const why = reason ? `: ${reason}` : '';
      if (status >= 200 && status < 300) {
        sent += lengthOf(n);
        opts.onSent?.(sent, stat.size);
        opts.onPart?.(n);
        return;
      }
      opts.onSent?.(sent, stat.size);
      if (status >= 400 && status < 500 && status !== 403 && status !== 408 && status !== 429) {
        throw new StagedUploadError(`Part ${n} was refused (HTTP ${status})${why}`);
      }
      if (attempt >= attempts) throw new StagedUploadError(`Part ${n} could not be sent after ${attempts} attempts (last: ${status ? `HTTP ${status}` : 'network error'})${why}`);
      if (status === 403) await refreshUrls(); // the URL expired (or the store's clock moved): fresh ones
      await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1)));
    }
  };
  const workers = Array.from({ length: Math.min(parallel, queue.length) }, async () => {
    for (let n = queue.shift(); n !== undefined; n = queue.shift()) await sendPart(n);
  });
  await Promise.all(workers);

  const { importStagedUpload } = await client.request(ClientImportStagedUploadDocument, { input: { ...options, stagedUploadId: upload.id } });
  if (!opts.stateFile) return importStagedUpload;
  // Refused with the file still on the server (the command's options, the tenant's jobs in
  // progress, a file to decode again later): the same command, corrected, continues with --resume
  // and sends nothing again. Imported, or the file gone with the refusal: nothing left to resume.
  if (!importStagedUpload.job) {
    const kept = await client.request(ClientStagedUploadDocument, { id: upload.id }).then((r) => r.stagedUpload, () => undefined);
    // Not known (the question failed): the refusal as it is, and the state kept for --resume to ask again.
    if (kept === undefined) return importStagedUpload;
    if (kept) return { ...importStagedUpload, resumableUntil: String(kept.expiresAt) };
  }
  await fs.promises.rm(opts.stateFile, { force: true });
  return importStagedUpload;
}
