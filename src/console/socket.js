/**
 * A small client of the graphql-transport-ws protocol (the one graphql-ws speaks), enough for
 * the console's subscriptions:
 *
 *   open socket (subprotocol graphql-transport-ws)
 *   -> connection_init { payload: { authorization } }   <- connection_ack
 *   -> subscribe { id, payload: { query, variables } }   <- next* then complete, or error
 *   -> complete { id } to stop one;  <- ping  -> pong
 *
 * The socket opens on the first subscription and closes a while after the last one ends. When it
 * drops (network, server restart) it reconnects with backoff and subscribes again; jobProgress
 * starts with the job's current snapshot, so nothing is missed. Close code 4403 means the key was
 * refused: every subscription fails with { unauthorized: true } and there is no retry.
 */

const IDLE_CLOSE_MS = 10_000;
const MAX_BACKOFF_MS = 15_000;

export class GraphQLSocket {
  /**
   * @param {string} url ws:// or wss:// URL of the GraphQL endpoint
   * @param {() => string | null} getAuthorization the `authorization` to send in connection_init
   * @param {(state: 'idle' | 'connecting' | 'live' | 'retrying' | 'unauthorized') => void} onState
   */
  constructor(url, getAuthorization, onState = () => {}) {
    this.url = url;
    this.getAuthorization = getAuthorization;
    this.onState = onState;
    /** @type {Map<string, { payload: object, sink: object, sent: boolean }>} */
    this.subscriptions = new Map();
    this.socket = null;
    this.acknowledged = false;
    this.nextId = 1;
    this.attempt = 0;
    this.retryTimer = 0;
    this.idleTimer = 0;
  }

  /**
   * Starts a subscription. `sink` gets next(data), error(errors) and complete(). Returns a
   * function that ends it.
   */
  subscribe(payload, sink) {
    const id = String(this.nextId++);
    this.subscriptions.set(id, { payload, sink, sent: false });
    clearTimeout(this.idleTimer);
    if (!this.socket) this.connect();
    else if (this.acknowledged) this.send(id);
    return () => this.stop(id);
  }

  /** Closes the socket and forgets every subscription (the key changed). */
  reset() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.idleTimer);
    this.subscriptions.clear();
    this.attempt = 0;
    this.close(1000, 'reset');
    this.onState('idle');
  }

  stop(id) {
    const sub = this.subscriptions.get(id);
    if (!sub) return;
    this.subscriptions.delete(id);
    if (sub.sent && this.acknowledged) this.write({ id, type: 'complete' });
    this.closeWhenIdle();
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.acknowledged = false;
    this.onState(this.attempt ? 'retrying' : 'connecting');
    const socket = new WebSocket(this.url, 'graphql-transport-ws');
    this.socket = socket;
    socket.addEventListener('open', () => {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: this.getAuthorization() ?? '' } }));
    });
    socket.addEventListener('message', (event) => {
      if (socket !== this.socket) return;
      let message;
      try { message = JSON.parse(event.data); } catch { socket.close(4400, 'Invalid message'); return; }
      this.receive(message);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.acknowledged = false;
      for (const sub of this.subscriptions.values()) sub.sent = false;
      if (event.code === 4403) {
        const subs = [...this.subscriptions.values()];
        this.subscriptions.clear();
        this.onState('unauthorized');
        for (const sub of subs) sub.sink.error({ unauthorized: true, message: 'The API key was refused' });
        return;
      }
      if (this.subscriptions.size === 0) { this.onState('idle'); return; }
      const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt) * (0.75 + Math.random() / 2);
      this.attempt++;
      this.onState('retrying');
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  receive(message) {
    switch (message.type) {
      case 'connection_ack':
        this.acknowledged = true;
        this.attempt = 0;
        this.onState('live');
        for (const id of this.subscriptions.keys()) this.send(id);
        this.closeWhenIdle();
        break;
      case 'ping':
        this.write({ type: 'pong' });
        break;
      case 'next': {
        const sub = this.subscriptions.get(message.id);
        if (sub) sub.sink.next(message.payload);
        break;
      }
      case 'error':
        this.end(message.id, (sink) => sink.error(message.payload));
        break;
      case 'complete':
        this.end(message.id, (sink) => sink.complete());
        break;
      default:
        break; // pong and anything newer: nothing to do
    }
  }

  /** The server ended subscription `id`: forget it, then `tell` its sink how. */
  end(id, tell) {
    const sub = this.subscriptions.get(id);
    if (!sub) return;
    this.subscriptions.delete(id);
    tell(sub.sink);
    this.closeWhenIdle();
  }

  send(id) {
    const sub = this.subscriptions.get(id);
    if (!sub || sub.sent) return;
    sub.sent = true;
    this.write({ id, type: 'subscribe', payload: sub.payload });
  }

  write(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  closeWhenIdle() {
    clearTimeout(this.idleTimer);
    if (this.subscriptions.size > 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.subscriptions.size === 0) { this.close(1000, 'idle'); this.onState('idle'); }
    }, IDLE_CLOSE_MS);
  }

  close(code, reason) {
    const socket = this.socket;
    this.socket = null;
    this.acknowledged = false;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(code, reason);
  }
}
