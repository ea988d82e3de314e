/**
 * The console's side of the GraphQL API: the API key (sessionStorage: it lasts as long as the
 * tab), JSON requests with fetch, the multipart upload with XMLHttpRequest (for upload progress),
 * and the job subscription over the WebSocket, shared between everyone watching the same job.
 */
import { JOB_PROGRESS_SUBSCRIPTION, JOB_QUERY } from './queries.js';
import { GraphQLSocket } from './socket.js';

const KEY_STORAGE = 'bulk-import.apiKey';
const ENDPOINT = '/graphql';

export const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** Thrown for a refused key (HTTP 401, WebSocket 4403): the page asks for a key again. */
export class UnauthorizedError extends Error {}

/** Thrown for transport failures and GraphQL errors: the message is fit to show. */
export class ApiError extends Error {}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE),
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

const bearer = () => `Bearer ${apiKey.get() ?? ''}`;

/** Runs a query or mutation and returns its `data`; GraphQL errors become an ApiError. */
export async function graphql(query, variables = {}) {
  let res;
  try {
    res = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: bearer() },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('The server cannot be reached. Check your connection and try again.');
  }
  if (res.status === 401) throw new UnauthorizedError('The API key was not accepted.');
  let body;
  try { body = await res.json(); } catch { throw new ApiError(`The server answered ${res.status} without a readable body.`); }
  if (body.errors?.length) throw new ApiError(body.errors.map((e) => e.message).join(' '));
  if (!res.ok || !body.data) throw new ApiError(`The server answered ${res.status}.`);
  return body.data;
}

/**
 * GETs one of the server's own URLs (Job.errorReportUrl) with the key and returns the Response.
 * The key only ever goes to the origin that served the console: a URL on another origin (the
 * listening address, when the browser reached the server by another name) is fetched at the same
 * path here, where the console's own API lives too.
 */
export async function getWithKey(url) {
  const target = new URL(url, location.href);
  const own = target.origin === location.origin ? target : new URL(`${target.pathname}${target.search}`, location.origin);
  let res;
  try {
    res = await fetch(own, { headers: { authorization: bearer() }, cache: 'no-store' });
  } catch {
    throw new ApiError('The server cannot be reached. Check your connection and try again.');
  }
  if (res.status === 401) throw new UnauthorizedError('The API key was not accepted.');
  return res;
}

/**
 * Uploads a file as a GraphQL multipart request (operations, map, then the file as part "0").
 * `onProgress(sent, total)` follows the bytes sent. Resolves to the mutation's `data`.
 * Returns { promise, abort }.
 */
export function uploadFile(query, variables, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('operations', JSON.stringify({ query, variables: { ...variables, input: { ...variables.input, file: null } } }));
    form.append('map', JSON.stringify({ 0: ['variables.input.file'] }));
    form.append('0', file, file.name);
    xhr.open('POST', ENDPOINT);
    xhr.setRequestHeader('authorization', bearer());
    xhr.setRequestHeader('accept', 'application/json');
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
    xhr.addEventListener('load', () => {
      if (xhr.status === 401) { reject(new UnauthorizedError('The API key was not accepted.')); return; }
      let body;
      try { body = JSON.parse(xhr.responseText); } catch {
        reject(new ApiError(xhr.status === 413 ? 'The file is too large for this server.' : `The server answered ${xhr.status}.`));
        return;
      }
      if (body.errors?.length) { reject(new ApiError(body.errors.map((e) => e.message).join(' '))); return; }
      if (!body.data) { reject(new ApiError(`The server answered ${xhr.status}.`)); return; }
      resolve(body.data);
    });
    xhr.addEventListener('error', () => reject(new ApiError('The upload was interrupted: the server cannot be reached.')));
    xhr.addEventListener('abort', () => reject(new ApiError('The upload was cancelled.')));
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

const wsUrl = () => `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${ENDPOINT}`;

const socketListeners = new Set();
export const socket = new GraphQLSocket(wsUrl(), bearer, (state) => { for (const fn of socketListeners) fn(state); });
export const onSocketState = (fn) => socketListeners.add(fn);

const POLL_MS = 2000;

/** job id -> { listeners, stop } : one subscription per job, however many views show it. */
const watches = new Map();

/**
 * Calls `listener(job)` with each snapshot of a job until it ends, and `onError(error)` if it
 * cannot be followed. Uses the jobProgress subscription; if the server refuses it (e.g. too many
 * open subscriptions), falls back to polling. Returns a function that stops listening.
 */
export function watchJob(id, listener, onError = () => {}) {
  let watch = watches.get(id);
  if (!watch) {
    watch = { listeners: new Set(), stop: () => {} };
    watches.set(id, watch);
    const emit = (job) => { for (const l of watch.listeners) l.listener(job); };
    const fail = (err) => { for (const l of watch.listeners) l.onError(err); };
    const end = () => { if (watches.get(id) === watch) watches.delete(id); };
    watch.stop = socket.subscribe({ query: JOB_PROGRESS_SUBSCRIPTION, variables: { id } }, {
      next: (result) => {
        if (result.data?.jobProgress) emit(result.data.jobProgress);
        if (result.errors?.length) fail(new ApiError(result.errors.map((e) => e.message).join(' ')));
      },
      error: (errors) => {
        if (errors?.unauthorized) { end(); fail(new UnauthorizedError(errors.message)); return; }
        watch.stop = poll(id, emit, (err) => { end(); fail(err); }, end);
      },
      complete: end,
    });
  }
  const entry = { listener, onError };
  watch.listeners.add(entry);
  return () => {
    watch.listeners.delete(entry);
    if (watch.listeners.size === 0 && watches.get(id) === watch) {
      watches.delete(id);
      watch.stop();
    }
  };
}

function poll(id, emit, fail, end) {
  let timer = 0;
  let stopped = false;
  const tick = async () => {
    try {
      const { job } = await graphql(JOB_QUERY, { id });
      if (stopped) return;
      if (!job) { fail(new ApiError('Job not found.')); return; }
      emit(job);
      if (TERMINAL.has(job.status)) { end(); return; }
      timer = setTimeout(tick, POLL_MS);
    } catch (err) {
      if (!stopped) fail(err);
    }
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}
