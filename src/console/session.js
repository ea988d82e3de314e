/** Signing out (a refused key, or Forget key) and where every failed request is reported. */
import { ApiError, UnauthorizedError, apiKey, socket } from './api.js';
import { announce } from './announce.js';
import { setNotice } from './dom.js';

const signOutSteps = [];

/** `step(message)` runs at every sign-out, in the order added (app.js adds them: screens first, then the key form). */
export function onSignOut(step) {
  signOutSteps.push(step);
}

/** Forgets the key and its live updates; `message` says why, on the key form. */
export function signOut(message) {
  apiKey.clear();
  socket.reset();
  for (const step of signOutSteps) step(message);
}

/** Every refused request ends here: back to the key form, saying why. */
export function handleError(err, noticeEl) {
  if (err instanceof UnauthorizedError) { signOut('This API key was refused. Enter a valid key.'); return; }
  const message = err instanceof ApiError ? err.message : `Something went wrong: ${err?.message ?? err}`;
  if (noticeEl) setNotice(noticeEl, message);
  else announce(message);
}

/** For a job followed in the background: a refused key signs out, any other failure stays quiet. */
export function signOutIfRefused(err) {
  if (err instanceof UnauthorizedError) handleError(err);
}
