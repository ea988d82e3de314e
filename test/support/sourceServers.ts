/**
 * Servers for importFromUrl's tests to fetch from, on 127.0.0.1: an HTTPS file server, and a small
 * S3-compatible server (GetObject, path-style) that verifies each request's SigV4 signature the
 * way S3 does, recomputed here with node:crypto independently of the SDK that signed it, so a
 * wrong secret gets 403 SignatureDoesNotMatch as from AWS. Both use a self-signed certificate
 * made with openssl for 127.0.0.1, which the app trusts through SOURCE_CA_FILE.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface Certificate { certFile: string; cert: string; key: string }

/** A self-signed certificate for 127.0.0.1 and localhost, valid for a day, written to `dir`. */
export function makeCertificate(dir: string): Certificate {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
  return { certFile, cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}

export interface RunningServer { origin: string; close(): Promise<void> }

export async function startHttpsServer(certificate: Certificate, handler: RequestListener): Promise<RunningServer> {
  const server = https.createServer({ cert: certificate.cert, key: certificate.key }, handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export interface S3Server extends RunningServer {
  /** Requests whose signature was checked and found right. */
  readonly verified: number;
}

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();

function s3Error(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' });
  res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>test</RequestId></Error>`);
}

/**
 * The signature S3 expects for this request, from AWS's SigV4 description: the canonical request
 * (method, path as sent, sorted query, the signed headers, the payload hash header), the string to
 * sign over its hash, and the HMAC chain from the secret through date, region and service.
 */
function expectedSignature(req: IncomingMessage, secret: string, signedHeaders: string, scope: string[]): string {
  const [pathPart, queryPart = ''] = (req.url ?? '/').split('?');
  const query = queryPart.split('&').filter(Boolean)
    .map((pair) => (pair.includes('=') ? pair : `${pair}=`))
    .sort()
    .join('&');
  const headers = signedHeaders.split(';').map((name) => {
    const value = req.headers[name];
    return `${name}:${(Array.isArray(value) ? value.join(',') : value ?? '').trim().replace(/\s+/g, ' ')}\n`;
  }).join('');
  const canonical = [req.method, pathPart, query, headers, signedHeaders, req.headers['x-amz-content-sha256']].join('\n');
  const [date, region, service] = scope;
  const toSign = ['AWS4-HMAC-SHA256', req.headers['x-amz-date'], scope.join('/'), sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(toSign).digest('hex');
}

/** GetObject (path-style: /bucket/key) over `objects` ("bucket/key" -> content), for one access key. */
export async function startS3Server(certificate: Certificate, account: { accessKeyId: string; secretAccessKey: string }, objects: Map<string, string | Buffer>): Promise<S3Server> {
  let verified = 0;
  const server = await startHttpsServer(certificate, (req, res) => {
    const auth = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
    if (!auth) { s3Error(res, 403, 'AccessDenied', 'Anonymous access is not allowed'); return; }
    const [accessKeyId, ...scope] = auth[1].split('/');
    if (accessKeyId !== account.accessKeyId) { s3Error(res, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'); return; }
    const expected = Buffer.from(expectedSignature(req, account.secretAccessKey, auth[2], scope));
    const given = Buffer.from(auth[3]);
    if (scope[3] !== 'aws4_request' || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      s3Error(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
      return;
    }
    verified++;
    if (req.method !== 'GET') { s3Error(res, 405, 'MethodNotAllowed', 'Only GetObject here'); return; }
    const objectPath = decodeURIComponent((req.url ?? '/').split('?')[0].slice(1));
    const bucket = objectPath.split('/')[0];
    const body = objects.get(objectPath);
    if (body === undefined) {
      const known = [...objects.keys()].some((k) => k.startsWith(`${bucket}/`));
      if (known) s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      else s3Error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv', 'content-length': Buffer.byteLength(body), etag: `"${sha256(String(body)).slice(0, 32)}"`, 'last-modified': new Date().toUTCString() });
    res.end(body);
  });
  return { ...server, get verified() { return verified; } };
}
