/**
 * How long a request body may hold its connection. While it arrives, a pause of UPLOAD_IDLE_TIMEOUT_MS
 * closes it (closeIfBodyPauses). And a request answered before its body has all arrived (refused without a key, over a limit, or on
 * a route that reads no body) keeps its connection only for a short while more: Node reads and
 * drops the rest of such a body for as long as the client sends it, or waits for it for ever if it
 * sends nothing, and the server bounds no whole request (app.ts). Without this, anyone could hold
 * any number of connections open by declaring a large Content-Length. A client that has sent
 * everything keeps its connection for its next request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long an answered request may go on sending the rest of its body before its connection is closed. */
export const ANSWERED_BODY_LINGER_MS = 10_000;

export function cutOffBodyAfterAnswer(req: IncomingMessage, res: ServerResponse, lingerMs = ANSWERED_BODY_LINGER_MS): void {
  res.once('close', () => {
    if (req.complete) return;
    const linger = setTimeout(() => req.socket?.destroy(), lingerMs);
    linger.unref();
    req.once('end', () => clearTimeout(linger));
    req.once('close', () => clearTimeout(linger));
  });
}

/**
 * While a body is read, a pause of idleMs closes its connection: the server bounds no whole
 * request, so this is what ends one whose client went silent (and frees what it holds, such as
 * its tenant's upload slot). Once `read` settles the timeout goes, unless the answer is already
 * out: the server has then set its own keep-alive timeout on the socket.
 */
export function closeIfBodyPauses(req: IncomingMessage, res: ServerResponse, idleMs: number, read: Promise<unknown>): void {
  req.socket?.setTimeout(idleMs);
  void read.then(() => {}, () => {}).then(() => { if (!res.writableFinished) req.socket?.setTimeout(0); });
}
