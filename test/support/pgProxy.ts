/**
 * A TCP proxy in front of Postgres that can lose a COMMIT's answer on purpose: armed, it lets the
 * next COMMIT through to the server, waits until the server has answered COMMIT, then cuts the
 * connection instead of passing the answer on. The client sees "connection closed" for a
 * transaction that did commit: the ambiguous commit every retry loop has to survive.
 *
 * It follows the frontend protocol only as far as needed to spot a COMMIT: a simple Query "commit",
 * or a Parse of "commit" (postgres.js prepares it once, then sends Bind with the statement name;
 * behind a pooler, with prepare: false, it parses the unnamed statement every time).
 */
import net from 'node:net';

export interface PgProxy {
  port: number;
  /** The URL of `targetUrl` with host and port of the proxy. */
  url: string;
  /** Loses the answer of the next `count` COMMITs. Resolves when they have been cut. */
  armCommitLoss(count?: number): Promise<void>;
  /** How many COMMITs were cut so far. */
  cuts(): number;
  close(): Promise<void>;
}

const isCommit = (sqlText: string) => /^\s*commit\s*;?\s*$/i.test(sqlText);

function cstring(buf: Buffer, at: number): [string, number] {
  const end = buf.indexOf(0, at);
  return [buf.toString('utf8', at, end), end + 1];
}

export async function startPgProxy(targetUrl: string): Promise<PgProxy> {
  const target = new URL(targetUrl);
  const targetHost = target.hostname;
  const targetPort = Number(target.port || 5432);
  let armed = 0;
  let cutCount = 0;
  let onCut: (() => void) | null = null;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    const destroyBoth = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('error', destroyBoth).on('close', destroyBoth);
    upstream.on('error', destroyBoth).on('close', destroyBoth);

    const commitStatements = new Set<string>();
    let started = false; // the startup message has no type byte
    let pending = Buffer.alloc(0);
    let waitingForCommitAnswer = false;
    let answer = '';

    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let sawCommit = false;
      for (;;) {
        if (!started) {
          if (pending.length < 4) break;
          const len = pending.readInt32BE(0);
          if (pending.length < len) break;
          const code = pending.readInt32BE(4);
          pending = pending.subarray(len);
          if (code !== 80877103) started = true; // SSLRequest is followed by the real startup message
          continue;
        }
        if (pending.length < 5) break;
        const type = String.fromCharCode(pending[0]);
        const len = pending.readInt32BE(1);
        if (pending.length < len + 1) break;
        const body = pending.subarray(5, len + 1);
        pending = pending.subarray(len + 1);
        if (type === 'Q' && isCommit(cstring(body, 0)[0])) sawCommit = true;
        if (type === 'P') {
          const [name, next] = cstring(body, 0);
          const [text] = cstring(body, next);
          // The unnamed statement ('', as with postgres.js's prepare: false) is replaced by the next Parse.
          if (isCommit(text)) { sawCommit = true; commitStatements.add(name); } else commitStatements.delete(name);
        }
        if (type === 'B') {
          const [, next] = cstring(body, 0);
          const [statement] = cstring(body, next);
          if (commitStatements.has(statement)) sawCommit = true;
        }
      }
      if (sawCommit && armed > 0) {
        armed--;
        waitingForCommitAnswer = true;
      }
      upstream.write(chunk);
    });

    upstream.on('data', (chunk: Buffer) => {
      if (waitingForCommitAnswer) {
        // Hold everything back from here on; once the server says COMMIT, cut the connection.
        answer += chunk.toString('latin1');
        if (answer.includes('COMMIT\0')) {
          cutCount++;
          destroyBoth();
          onCut?.();
        }
        return;
      }
      client.write(chunk);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String(port);

  return {
    port,
    url: url.toString(),
    cuts: () => cutCount,
    armCommitLoss: (count = 1) => {
      const goal = cutCount + count;
      armed += count;
      return new Promise<void>((resolve) => {
        onCut = () => { if (cutCount >= goal) resolve(); };
      });
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
