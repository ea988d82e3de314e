/**
 * Why a part of a staged upload could not be sent, in words the user can act on. A browser gives
 * a PUT that CORS refused the same status 0 as a dropped connection. For a part URL on another
 * origin (an S3 store's presigned URL) a no-cors request to that origin tells the two apart: it
 * resolves whenever the store answers at all, so a store that answers it refused this page's PUT,
 * which only the bucket's CORS rule can change.
 */

const PROBE_TIMEOUT_MS = 10_000;

/** Whether `origin` answers a request from this page at all (its answer stays unread). */
function answers(origin) {
  return fetch(`${origin}/`, { mode: 'no-cors', cache: 'no-store', credentials: 'omit', signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
    .then(() => true, () => false);
}

/** The message for part `n`, last sent to `target` (an absolute URL) and answered with `status` and the service's `reason`, if any. */
export async function partFailureMessage(n, status, target, reason = null) {
  if (status) return `Part ${n} of the file could not be sent (HTTP ${status})${reason ? `: ${reason.replace(/\.?$/, '.')}` : '.'} Choose the same file again to continue.`;
  const store = new URL(target).origin;
  if (store !== location.origin && await answers(store)) {
    return `Part ${n} of the file could not be sent: the file store at ${store} refused this page (CORS). `
      + `The operator must allow PUT from ${location.origin} in the bucket's CORS rule (docs/operations.md, "CORS, for the console's staged uploads"). `
      + 'Then choose the same file again to continue.';
  }
  return `Part ${n} of the file could not be sent (no connection). Choose the same file again to continue.`;
}
