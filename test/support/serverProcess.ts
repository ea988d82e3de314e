/**
 * The real server as a child process (`node --import tsx src/main.ts`), for the tests that have to
 * kill it (SIGKILL), freeze it (SIGSTOP/SIGCONT) or stop it gracefully (SIGTERM) and watch what
 * happens to the database. In-process apps (testApp.ts) can't be killed half-way through a batch.
 *
 * Also used by `npm run chaos` (bench/chaos.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, REPO_ROOT, tsxArgs } from '../../bench/serverProcess.js';

export interface ExitInfo { code: number | null; signal: NodeJS.Signals | null; atMs: number }

export interface ServerChild {
  label: string;
  pid: number;
  port: number;
  /** http://127.0.0.1:<port>/graphql */
  url: string;
  /** ws://127.0.0.1:<port>/graphql */
  wsUrl: string;
  /** Everything the child wrote (stdout + stderr), capped at a few MB (oldest output dropped). */
  output(): string;
  /** The child's pino log lines that parse as JSON. */
  logs(): Record<string, unknown>[];
  /** Settles once the child has exited. */
  exited: Promise<ExitInfo>;
  exitInfo(): ExitInfo | null;
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<ExitInfo>;
  /** Stops it whatever state it is in (SIGCONT, SIGTERM, SIGKILL after `graceMs`); never throws. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_CAP = 4 * 1024 * 1024;
const running = new Set<ServerChild>();

export interface StartOptions {
  /** The server's environment on top of PATH/HOME: DATABASE_URL, DATA_DIR, LEASE_MS, ... */
  env: Record<string, string | undefined>;
  label: string;
  readyTimeoutMs?: number;
}

/** Spawns the server on a free port and resolves once it answers HTTP (it listens after its migrations). */
export async function startServerChild(opts: StartOptions): Promise<ServerChild> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'info',
    ...opts.env,
    PORT: String(port),
    HOST: '127.0.0.1',
  };
  const child: ChildProcess = spawn(process.execPath, tsxArgs('src/main.ts'), {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (!child.pid) throw new Error(`${opts.label}: could not start the server`);
  let text = '';
  const push = (chunk: Buffer) => {
    text += chunk.toString('utf8');
    if (text.length > OUTPUT_CAP) text = text.slice(-OUTPUT_CAP / 2);
  };
  child.stdout!.on('data', push);
  child.stderr!.on('data', push);
  let info: ExitInfo | null = null;
  const exited = new Promise<ExitInfo>((resolve) => child.once('exit', (code, signal) => {
    info = { code, signal, atMs: performance.now() };
    resolve(info);
  }));

  const server: ServerChild = {
    label: opts.label,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    output: () => text,
    logs: () => text.split('\n').flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try { return [JSON.parse(line) as Record<string, unknown>]; } catch { return []; }
    }),
    exited,
    exitInfo: () => info,
    signal: (sig) => { if (!info) child.kill(sig); },
    kill: async () => {
      if (!info) child.kill('SIGKILL');
      return exited;
    },
    stop: async (graceMs = 15_000) => {
      if (!info) {
        child.kill('SIGCONT'); // a frozen child can't handle SIGTERM
        child.kill('SIGTERM');
        const timeout = new Promise<'timeout'>((r) => setTimeout(r, graceMs, 'timeout').unref());
        if ((await Promise.race([exited, timeout])) === 'timeout') child.kill('SIGKILL');
      }
      await exited;
      running.delete(server);
    },
  };
  running.add(server);
  void exited.then(() => running.delete(server));

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 90_000);
  for (;;) {
    if (info) {
      throw new Error(`${opts.label}: the server exited (${JSON.stringify(info)}) before it was ready. Its output:\n${text.slice(-8000)}`);
    }
    if (Date.now() > deadline) {
      await server.stop(1000);
      throw new Error(`${opts.label}: no HTTP answer within ${opts.readyTimeoutMs ?? 90_000} ms. Its output:\n${text.slice(-8000)}`);
    }
    try {
      await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return server;
}

/** Stops every child this module started and that is still alive (for afterEach/afterAll and exit paths). */
export async function stopAllServerChildren(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop(5000)));
}
