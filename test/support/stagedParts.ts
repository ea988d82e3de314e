/** Sending a staged upload's parts the way a client does: HTTP PUTs of exact byte ranges to the part URLs. */
import http from 'node:http';
import https from 'node:https';

/** Bytes [ (n-1)*partSize, n*partSize ) of the file: part n. */
export const partOf = (file: Buffer, partSize: number, n: number) => file.subarray((n - 1) * partSize, n * partSize);

/** PUTs `body` to a part URL; the answer's status. */
export async function putPart(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { method: 'PUT', body: new Uint8Array(body), headers });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Starts a part PUT announcing the whole part, sends its first `sentBytes`, then cuts the
 * connection, as a dropped network link would.
 */
export async function putPartCut(url: string, body: Buffer, sentBytes: number): Promise<void> {
  const target = new URL(url);
  const request = (target.protocol === 'https:' ? https : http).request(target, { method: 'PUT', headers: { 'content-length': String(body.length) } });
  request.on('error', () => {});
  await new Promise<void>((resolve) => request.write(body.subarray(0, sentBytes), () => resolve()));
  await new Promise((r) => setTimeout(r, 200));
  request.destroy();
  await new Promise((r) => setTimeout(r, 200));
}

/** In-place Fisher-Yates with a fixed seed, so a failure can be replayed. */
export function shuffled<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
