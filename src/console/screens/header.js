/** The top bar once signed in: the state of the live updates, and Forget key. */
import { onSocketState } from '../api.js';
import { announce } from '../announce.js';
import { $ } from '../dom.js';
import { signOut } from '../session.js';

const LIVE_STATE_TEXT = {
  idle: 'Live updates idle',
  connecting: 'Connecting…',
  live: 'Live',
  retrying: 'Reconnecting…',
  unauthorized: 'Key refused',
};
onSocketState((state) => {
  $('live-state').dataset.state = state;
  $('live-state').hidden = state === 'idle';
  $('live-state-text').textContent = LIVE_STATE_TEXT[state] ?? state;
});

$('forget-key').addEventListener('click', () => {
  signOut('');
  announce('Key forgotten.');
});
