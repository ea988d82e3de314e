// Receive bulk-import's webhooks and check each one's signature (Standard Webhooks), with node:crypto only.
// Run: WEBHOOK_SECRET=whsec_... PORT=8080 npx tsx examples/webhook-receiver.ts (behind your https proxy)
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

/** The event, if `secret` signed this body with these headers less than 5 minutes ago; else null. */
export function verifyWebhook(secret: string, headers: http.IncomingHttpHeaders, body: string): { type: string; data: Record<string, unknown> } | null {
  const id = String(headers['webhook-id']);
  const timestamp = String(headers['webhook-timestamp']);
  if (!(Math.abs(Date.now() / 1000 - Number(timestamp)) <= 300)) return null; // stale, maybe replayed
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
  const signed = String(headers['webhook-signature']).split(' ').some((candidate) => {
    const given = Buffer.from(candidate.replace(/^v1,/, ''), 'base64');
    return candidate.startsWith('v1,') && given.length === expected.length && timingSafeEqual(given, expected);
  });
  return signed ? JSON.parse(body) : null;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; });
    req.on('end', () => {
      const event = verifyWebhook(process.env.WEBHOOK_SECRET!, req.headers, body);
      if (!event) { res.writeHead(401).end(); return; }
      console.log(event.type, event.data.id, event.data.status, `${event.data.rowsImported} rows imported`);
      res.writeHead(204).end(); // answer quickly; anything but 2xx is retried
    });
  }).listen(Number(process.env.PORT ?? 8080));
}
