/**
 * The import console: static files from src/console/, served at / (index.html) and /console/*.
 * The page itself holds no secret; the user types an API key, which stays in the browser.
 */
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestPath } from './requestTarget.js';

// From the repository root, so that the compiled server (dist/http/) serves the same files.
const ROOT = fileURLToPath(new URL('../../../src/console/', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The console's routes. `partOrigins`: where staged uploads' parts go besides this service (an S3
 * spool's store), which the page's CSP must let it PUT to.
 */
export function consoleRoutes(partOrigins: string[] = []) {
  const csp = `default-src 'self'; connect-src 'self' ws: wss:${partOrigins.map((o) => ` ${o}`).join('')}; img-src 'self' data:; style-src 'self'`;
  return (req: IncomingMessage, res: ServerResponse) => serveConsole(req, res, csp);
}

/** Answers the request and returns true when it is for the console. */
async function serveConsole(req: IncomingMessage, res: ServerResponse, csp: string): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const urlPath = requestPath(req);
  let relative: string;
  if (urlPath === '/' || urlPath === '/index.html') relative = 'index.html';
  else if (urlPath.startsWith('/console/')) relative = urlPath.slice('/console/'.length);
  else return false;
  const file = path.resolve(ROOT, relative);
  // Never outside the console folder (../ in the URL).
  if (!file.startsWith(ROOT)) return false;
  const type = TYPES[path.extname(file)];
  if (!type) return false;
  let body: Buffer;
  try { body = await fs.readFile(file); } catch { return false; }
  res.writeHead(200, {
    'content-type': type,
    'cache-control': 'no-cache',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
}
