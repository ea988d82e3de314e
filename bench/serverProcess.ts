/**
 * The service under test, run as a child process so that its memory is its own and can be read
 * from /proc. It runs compiled, as in production (`npm start`): `node dist/main.js` with our own
 * node binary, after `buildServer` compiled src/ to dist/. (Under tsx the same server holds more:
 * 149 against 94 MiB idle, measured here; and `npx` or `npm start` would put a wrapper process
 * between us and the server, whose RSS we would sample instead.)
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runs a TypeScript entry point of the repo the same way: `node --import tsx <file> ...args`. */
export const tsxArgs = (file: string, ...args: string[]) => ['--import', 'tsx', path.join(REPO_ROOT, file), ...args];

/** `npm run build`: compiles src/ to dist/ (incremental, so a second run takes a second or two). */
export async function buildServer(): Promise<void> {
  const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, timeout: 300_000 });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Keeps the last `max` characters a child wrote, to explain a failure without flooding the terminal. */
function tail(max = 8000) {
  let text = '';
  return {
    push: (chunk: Buffer) => { text = (text + chunk.toString('utf8')).slice(-max); },
    get: () => text,
  };
}

const MB = 1024 * 1024;

/**
 * Samples a process's resident memory from /proc/<pid>/status every `intervalMs`. VmRSS is the
 * current value, VmHWM the kernel's own high-water mark, which also catches a peak that falls
 * between two samples. A phase (one import) resets the high-water mark through
 * /proc/<pid>/clear_refs ("5"), so each import gets its own peak; where that is not allowed the
 * phase falls back to the sampled maximum.
 */
export class RssMonitor {
  private timer: NodeJS.Timeout | null = null;
  private overallPeak = 0;
  private phasePeak = 0;
  private hwmResettable = true;
  samples = 0;

  constructor(private readonly pid: number, private readonly intervalMs = 100) {}

  private async read(): Promise<{ rss: number; hwm: number } | null> {
    try {
      const status = await fs.readFile(`/proc/${this.pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
      return { rss: kb('VmRSS') * 1024, hwm: kb('VmHWM') * 1024 };
    } catch {
      return null; // the process has exited
    }
  }

  private async sample(): Promise<void> {
    const m = await this.read();
    if (!m) return;
    this.samples++;
    const peak = Math.max(m.rss, m.hwm);
    this.overallPeak = Math.max(this.overallPeak, peak);
    this.phasePeak = Math.max(this.phasePeak, this.hwmResettable ? peak : m.rss);
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Starts a new phase: takes a last reading of the old high-water mark, then resets it. */
  async beginPhase(): Promise<void> {
    await this.sample();
    try {
      await fs.writeFile(`/proc/${this.pid}/clear_refs`, '5');
    } catch {
      this.hwmResettable = false;
    }
    this.phasePeak = 0;
    await this.sample();
  }

  /** The RSS right now, in MiB (0 once the process is gone). */
  async currentMb(): Promise<number> {
    return ((await this.read())?.rss ?? 0) / MB;
  }

  /** The phase's peak RSS in MiB. */
  async endPhase(): Promise<number> {
    await this.sample();
    return this.phasePeak / MB;
  }

  get overallPeakMb(): number { return this.overallPeak / MB; }
  get method(): string {
    return this.hwmResettable
      ? `VmRSS every ${this.intervalMs} ms + VmHWM (reset per import via clear_refs)`
      : `VmRSS every ${this.intervalMs} ms (VmHWM not resettable here; overall peak includes VmHWM)`;
  }
}

export interface ServerProcess {
  pid: number;
  url: string;
  wsUrl: string;
  rss: RssMonitor;
  /** Seconds from spawn to the first HTTP answer (it listens only after migrations). */
  startupSeconds: number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * How `npm start` runs the server: the environment it sets (the NAME=value words before `node` in
 * package.json's start script, e.g. MALLOC_MMAP_THRESHOLD_) and node's flags (the --words after
 * `node`, e.g. --initial-old-space-size), so the benchmark measures the server as it is run.
 */
async function startScript(): Promise<{ env: Record<string, string>; nodeArgs: string[] }> {
  const pkg = JSON.parse(await fs.readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const words = pkg.scripts.start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let at = 0;
  for (; at < words.length; at++) {
    const setting = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(words[at]);
    if (!setting) break;
    env[setting[1]] = setting[2];
  }
  if (words[at] !== 'node') throw new Error(`the start script does not run node: ${pkg.scripts.start}`);
  const nodeArgs: string[] = [];
  for (at++; at < words.length && words[at].startsWith('--'); at++) nodeArgs.push(words[at]);
  return { env, nodeArgs };
}

export async function startServer(opts: { env: NodeJS.ProcessEnv; label: string; readyTimeoutMs?: number; logFile?: string }): Promise<ServerProcess> {
  const port = await freePort();
  const started = performance.now();
  const start = await startScript();
  const nodeArgs = [...start.nodeArgs, ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, path.join(REPO_ROOT, 'dist', 'main.js')], {
    cwd: REPO_ROOT,
    env: { ...start.env, ...opts.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = tail();
  child.stdout!.on('data', out.push);
  child.stderr!.on('data', out.push);
  if (opts.logFile) {
    const log = (await fs.open(opts.logFile, 'a')).createWriteStream();
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
  }
  let exit: string | null = null;
  const exited = new Promise<void>((resolve) => child.once('exit', (code, signal) => {
    exit = `exited with ${signal ?? `code ${code}`}`;
    resolve();
  }));
  if (!child.pid) throw new Error(`${opts.label}: could not start the server`);

  const stop = async () => {
    if (exit) return;
    child.kill('SIGTERM'); // graceful: the server closes its sockets and database
    const timeout = new Promise<'timeout'>((r) => setTimeout(r, 10_000, 'timeout').unref());
    if ((await Promise.race([exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await exited;
    }
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  try {
    // Any HTTP answer means ready: the server listens only once its migrations have run.
    for (;;) {
      if (exit) throw new Error(`${opts.label}: the server ${exit} before it was ready. Its output:\n${out.get()}`);
      if (Date.now() > deadline) throw new Error(`${opts.label}: the server did not answer within ${opts.readyTimeoutMs ?? 120_000} ms. Its output:\n${out.get()}`);
      try {
        await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const rss = new RssMonitor(child.pid);
  rss.start();
  return {
    pid: child.pid,
    url: `${url}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    rss,
    startupSeconds: (performance.now() - started) / 1000,
    output: out.get,
    stop: async () => {
      rss.stop();
      await stop();
    },
  };
}
