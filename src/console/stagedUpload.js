/**
 * Large files go as staged uploads (createStagedUpload, a PUT per part, importStagedUpload), as
 * the CLI sends them: parts read from the file with Blob.slice, a few in flight, each retried with
 * backoff, progress over bytes. The upload's id is kept in localStorage under the file's name,
 * size and date, so after a page reload the same file chosen again continues where it stopped:
 * the parts the server already has are not sent again. Part URLs need no API key.
 */
import { ApiError, graphql } from './api.js';
import { partFailureMessage } from './partFailure.js';
import { CREATE_STAGED_MUTATION, IMPORT_STAGED_MUTATION, STAGED_QUERY } from './queries.js';

/** Past this size a file goes as a staged upload (the CLI's threshold too). */
export const STAGED_THRESHOLD_BYTES = 32 * 1024 * 1024;
const PARALLEL = 4;
const ATTEMPTS = 6;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 15_000;

const memoryKey = (file) => `bulk-import.staged:${file.name}:${file.size}:${file.lastModified}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A part URL on this service is PUT at the same path on the page's own origin (the service may
 * give its listening address, which the browser may know by another name); a store's URL as it is.
 */
function partTarget(url) {
  const target = new URL(url, location.href);
  return target.pathname.startsWith('/staged/') ? `${location.origin}${target.pathname}${target.search}` : target.href;
}

/** The service's reason for refusing a part: its plain-text answer, one short line (a store's are XML); as the CLI's reasonOf (src/client/stagedSender.ts) reads it. */
function reasonOf(xhr) {
  const text = (xhr.responseText ?? '').trim();
  return (xhr.getResponseHeader('content-type') ?? '').startsWith('text/plain') && text && text.length < 500 && !text.includes('\n') ? text : null;
}

/** PUTs a Blob; resolves to { status, reason } (status 0: network error or aborted; reason: the service's words, if any). */
function putBlob(url, blob, onBytes, signal) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', partTarget(url));
    xhr.upload.addEventListener('progress', (e) => onBytes(e.loaded));
    xhr.addEventListener('load', () => resolve({ status: xhr.status, reason: reasonOf(xhr) }));
    xhr.addEventListener('error', () => resolve({ status: 0, reason: null }));
    xhr.addEventListener('abort', () => resolve({ status: 0, reason: null }));
    signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
}

/** Whether this file has an unfinished staged upload from an earlier page. */
export const hasUnfinishedUpload = (file) => localStorage.getItem(memoryKey(file)) !== null;

/**
 * Sends `file` as a staged upload and imports it with `input` (uploadImport's options without the
 * file). `onProgress(sent, total, resumed)`. Returns { promise, abort }; the promise resolves to
 * importStagedUpload's payload (or createStagedUpload's refusal, as { job: null, userErrors }),
 * with `resumableUntil` when it was refused and the file stays on the server until then.
 */
export function uploadStaged(file, input, onProgress) {
  const controller = new AbortController();
  const promise = (async () => {
    let upload = null;
    let resumed = false;
    const remembered = localStorage.getItem(memoryKey(file));
    if (remembered) {
      upload = (await graphql(STAGED_QUERY, { id: remembered })).stagedUpload;
      resumed = Boolean(upload);
      if (!upload) localStorage.removeItem(memoryKey(file));
    }
    if (!upload) {
      const { createStagedUpload } = await graphql(CREATE_STAGED_MUTATION, {
        input: { filename: file.name, fileSize: file.size, allowDuplicateFile: input.allowDuplicateFile },
      });
      if (!createStagedUpload.stagedUpload) return { job: null, userErrors: createStagedUpload.userErrors };
      upload = createStagedUpload.stagedUpload;
      localStorage.setItem(memoryKey(file), upload.id);
    }
    const urls = new Map(upload.parts.map((p) => [p.number, p.url]));
    const lengthOf = (n) => Math.min(upload.partSize, file.size - (n - 1) * upload.partSize);
    let sent = upload.parts.filter((p) => p.received).reduce((sum, p) => sum + lengthOf(p.number), 0);
    const inFlight = new Map();
    const report = () => onProgress(sent + [...inFlight.values()].reduce((a, b) => a + b, 0), file.size, resumed);
    report();
    const refreshUrls = async () => {
      const { stagedUpload } = await graphql(STAGED_QUERY, { id: upload.id });
      if (!stagedUpload) throw new ApiError('The upload expired on the server before all its parts were sent. Upload the file again.');
      for (const p of stagedUpload.parts) urls.set(p.number, p.url);
    };
    const sendPart = async (n) => {
      const start = (n - 1) * upload.partSize;
      for (let attempt = 1; ; attempt++) {
        if (controller.signal.aborted) throw new ApiError('The upload was cancelled.');
        const { status, reason } = await putBlob(urls.get(n), file.slice(start, start + lengthOf(n)), (bytes) => { inFlight.set(n, bytes); report(); }, controller.signal);
        inFlight.delete(n);
        if (status >= 200 && status < 300) { sent += lengthOf(n); report(); return; }
        report();
        if (controller.signal.aborted) throw new ApiError('The upload was cancelled.');
        if (attempt >= ATTEMPTS) throw new ApiError(await partFailureMessage(n, status, partTarget(urls.get(n)), reason));
        if (status === 403) await refreshUrls();
        await sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1)));
      }
    };
    const queue = upload.parts.filter((p) => !p.received).map((p) => p.number);
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, async () => {
      for (let n = queue.shift(); n !== undefined; n = queue.shift()) await sendPart(n);
    }));
    const { importStagedUpload } = await graphql(IMPORT_STAGED_MUTATION, { input: { ...input, stagedUploadId: upload.id } });
    // Refused with the file still on the server (its kind or columns, the tenant's jobs in
    // progress): the same file sent again, corrected, is imported with nothing sent again.
    if (!importStagedUpload.job) {
      const kept = await graphql(STAGED_QUERY, { id: upload.id }).then((r) => r.stagedUpload, () => undefined);
      // Not known (the question failed): the refusal as it is, the upload remembered to ask again.
      if (kept === undefined) return importStagedUpload;
      if (kept) return { ...importStagedUpload, resumableUntil: kept.expiresAt };
    }
    localStorage.removeItem(memoryKey(file));
    return importStagedUpload;
  })();
  return { promise, abort: () => controller.abort() };
}
