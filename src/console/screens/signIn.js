/** The sign-in screen: an API key, checked against the server before the tab keeps it. */
import { UnauthorizedError, apiKey, graphql } from '../api.js';
import { announce } from '../announce.js';
import { $, setNotice } from '../dom.js';
import { CHECK_KEY_QUERY } from '../queries.js';
import { route } from '../router.js';

/** Says what is wrong with the key under its field (nothing: `message` empty). */
export function showKeyProblem(message, invalid = Boolean(message)) {
  setNotice($('key-error'), message);
  $('key-input').setAttribute('aria-invalid', invalid ? 'true' : 'false');
}

$('key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  if (!key) {
    showKeyProblem('Enter your API key.');
    $('key-input').focus();
    return;
  }
  $('key-submit').disabled = true;
  apiKey.set(key);
  try {
    await graphql(CHECK_KEY_QUERY);
    $('key-input').value = '';
    showKeyProblem('');
    announce('Signed in.');
    route();
    if (!location.hash.startsWith('#/jobs/')) $('upload-title').focus();
  } catch (err) {
    apiKey.clear();
    showKeyProblem(err instanceof UnauthorizedError ? 'This API key was refused. Check it and try again.' : err.message, true);
    $('key-input').focus();
  } finally {
    $('key-submit').disabled = false;
  }
});
