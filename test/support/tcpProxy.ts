/**
 * A plain TCP proxy that can take its target away: `down()` drops every open connection and stops
 * listening (new ones are refused, as by a stopped server), `up()` listens again on the same port;
 * `silence()` leaves the open connections open but carrying nothing, as a store that hangs;
 * `freeze()` does that to every connection, new ones included, until `thaw()`, as a network path
 * that drops packets without a reset, and comes back.
 * The fleet test puts it in front of the run's radosgw, which other test files share and which
 * must stay up for them.
 */
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Drops every connection through it and refuses new ones. */
  down(): Promise<void>;
  /** Accepts connections again, on the same port. */
  up(): Promise<void>;
  /** The connections open now stop carrying bytes either way, and stay open (a store that hangs); new ones work. */
  silence(): void;
  /** Every connection, open now or made until `thaw`, carries no bytes either way and stays open. */
  freeze(): void;
  /**
   * New connections work again; those frozen stay open and silent for good, as behind a firewall
   * or NAT that lost their state and drops their packets without a reset.
   */
  thaw(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  /** Each client's connection to the target, while both are open. */
  const pairs = new Map<net.Socket, net.Socket>();
  /** New connections are left carrying nothing. */
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client).add(upstream);
    const destroyBoth = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); pairs.delete(client); };
    client.on('error', destroyBoth).on('close', destroyBoth);
    upstream.on('error', destroyBoth).on('close', destroyBoth);
    if (frozen) {
      client.pause();
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.set(client, upstream);
  });
  const stopCarrying = (client: net.Socket, upstream: net.Socket) => {
    client.unpipe(upstream); upstream.unpipe(client);
    client.pause(); upstream.pause();
  };
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const down = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    sockets.clear();
    await closed;
  };
  return {
    port,
    down,
    up: () => listen(port),
    silence: () => {
      for (const [client, upstream] of pairs) stopCarrying(client, upstream);
      pairs.clear();
    },
    freeze: () => {
      frozen = true;
      for (const [client, upstream] of pairs) stopCarrying(client, upstream);
      pairs.clear();
    },
    thaw: () => { frozen = false; },
    close: async () => { if (server.listening) await down(); },
  };
}

/** A proxy in front of the server a URL names (a database's), with that URL through it. */
export interface UrlProxy extends TcpProxy { url: string }

export async function startUrlProxy(targetUrl: string): Promise<UrlProxy> {
  const target = new URL(targetUrl);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const through = new URL(targetUrl);
  through.hostname = '127.0.0.1';
  through.port = String(proxy.port);
  return Object.assign(proxy, { url: through.toString() });
}
