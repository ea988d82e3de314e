/**
 * The embedded default: a real PostgreSQL cluster in DATA_DIR/postgres, run from the binaries npm
 * installed (embeddedBinaries.ts). It listens on 127.0.0.1 only, on a free port, with a password
 * kept in DATA_DIR/postgres/bulk-import.json (readable by its owner alone), so that a second process (the CLI)
 * reaches the running server's database: the port is in the cluster's postmaster.pid.
 *
 * Postgres must not outlive the process that started it, even one killed with SIGKILL. So it runs
 * under a small sh that holds a pipe from us: when the pipe closes (we stopped it, exited or were
 * killed) the sh asks Postgres for a fast shutdown. It runs in a process group of its own, so that
 * Ctrl-C in a terminal reaches us and not Postgres, which we stop after our own graceful shutdown.
 */
import { spawn, execFile, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { EmbeddedPostgresUnavailable, findBinaries } from './embeddedBinaries.js';

export const clusterFolder = (dataDir: string) => path.join(dataDir, 'postgres');
/** The password of the cluster's user, inside the cluster's folder (readable by the service's user alone). */
const SECRETS = 'bulk-import.json';
const secretsFile = (dataDir: string) => path.join(clusterFolder(dataDir), SECRETS);

/**
 * Settings for a database that shares a laptop: few connections (the service's pool, its
 * listener, a CLI), shared buffers and WAL buffers as a default-sized server has them (a COPY's
 * heap pages go through a ring buffer whatever the size, but the tables' index pages go through
 * the shared buffers: at 16 MB they were evicted and written back during the import, and the
 * embedded database spent 1.3-1.5x the reference's CPU per import; shared memory left untouched
 * costs nothing while idle), no logical replication (one process fewer), and no socket file in
 * /tmp or /var/run beside another Postgres. Durability is PostgreSQL's own.
 */
const SETTINGS: Record<string, string> = {
  listen_addresses: '127.0.0.1',
  unix_socket_directories: '',
  max_connections: '24',
  shared_buffers: '128MB',
  wal_buffers: '4MB',
  max_wal_size: '2GB',
  huge_pages: 'off',
  max_logical_replication_workers: '0',
  lc_messages: 'C',
  log_min_messages: 'warning',
  log_checkpoints: 'off',
  timezone: 'UTC',
};

export interface EmbeddedCluster {
  url: string;
  /** Fast shutdown; resolves once Postgres has exited. */
  stop(): Promise<void>;
}

interface Secrets { password: string }

const exists = (file: string) => fs.access(file).then(() => true, () => false);

/** The URL of the cluster a running server (or another process) started on `dataDir`, or null. */
export async function runningClusterUrl(dataDir: string): Promise<string | null> {
  let lines: string[];
  try {
    lines = (await fs.readFile(path.join(clusterFolder(dataDir), 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return null;
  }
  const port = Number(lines[3]);
  if (!Number.isInteger(port) || port <= 0 || !(await accepts(port))) return null;
  return urlFor(port, await readSecrets(dataDir));
}

function urlFor(port: number, secrets: Secrets): string {
  return `postgres://postgres:${encodeURIComponent(secrets.password)}@127.0.0.1:${port}/postgres`;
}

async function readSecrets(dataDir: string): Promise<Secrets> {
  return JSON.parse(await fs.readFile(secretsFile(dataDir), 'utf8')) as Secrets;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Postgres refuses to run as root. As root (a container, CI) it runs as the system user
 * `postgres`, created when missing, and the cluster's folder is handed to it.
 */
async function runAs(): Promise<{ uid: number; gid: number } | null> {
  if (process.platform === 'win32' || process.getuid?.() !== 0) return null;
  const run = promisify(execFile);
  const id = async () => ({ uid: Number((await run('id', ['-u', 'postgres'])).stdout), gid: Number((await run('id', ['-g', 'postgres'])).stdout) });
  try {
    return await id();
  } catch {
    try {
      await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    } catch (err) {
      throw new EmbeddedPostgresUnavailable(`running as root, PostgreSQL needs a user of its own, and creating the user postgres failed (${(err as Error).message.trim()})`);
    }
    return id();
  }
}

/**
 * As root, Postgres runs as the user postgres, which must pass through every folder above its
 * cluster. The data folder is opened to it for passing through (not listing); a folder above it
 * closed to other users (a home folder, a temporary folder made private) is named in the error.
 */
async function letThrough(dataDir: string): Promise<void> {
  const { mode } = await fs.stat(dataDir);
  if ((mode & 0o001) === 0) await fs.chmod(dataDir, (mode & 0o7777) | 0o011);
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    if (((await fs.stat(dir)).mode & 0o001) === 0) {
      throw new EmbeddedPostgresUnavailable(`running as root, PostgreSQL runs as the user postgres, which cannot pass through ${dir} `
        + `to the data folder ${dataDir}; allow it (chmod o+x ${dir}), set DATA_DIR to a folder it can reach, or run the service as another user`);
    }
    if (dir === path.dirname(dir)) return;
  }
}

/** The dynamic loader's words when a program's shared libraries are not where it looks (embeddedBinaries.ts checkLibraryLinks). */
const LIBRARIES_MISSING = /error while loading shared libraries/;

/** Runs a program to its end, with its output kept for the error it may explain. */
function runToEnd(file: string, args: string[], owner: { uid: number; gid: number } | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...owner, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => { output = (output + c.toString()).slice(-4000); });
    child.stderr.on('data', (c: Buffer) => { output = (output + c.toString()).slice(-4000); });
    child.on('error', (err) => reject(new EmbeddedPostgresUnavailable(`${path.basename(file)} could not be started (${err.message})`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else if (LIBRARIES_MISSING.test(output)) reject(new EmbeddedPostgresUnavailable(`${path.basename(file)} cannot load its libraries (${output.trim()})`));
      else reject(new Error(`${path.basename(file)} failed (exit ${code}): ${output.trim()}`));
    });
  });
}

/**
 * initdb into a folder of its own, renamed into place once complete with the password beside it:
 * PG_VERSION in DATA_DIR/postgres then always means a cluster that can start, even to a process
 * that looks while another one is still initialising (a CLI command beside a first start).
 */
async function initialise(dataDir: string, initdb: string, owner: { uid: number; gid: number } | null): Promise<void> {
  const folder = `${clusterFolder(dataDir)}.init-${process.pid}`;
  const secrets: Secrets = { password: randomBytes(24).toString('base64url') };
  await fs.rm(folder, { recursive: true, force: true });
  await fs.mkdir(folder, { mode: 0o700 });
  if (owner) await fs.chown(folder, owner.uid, owner.gid);
  // initdb reads the password from a file; it lives beside the cluster for the moment it takes.
  const pwfile = path.join(dataDir, `.postgres-password-${process.pid}`);
  await fs.writeFile(pwfile, `${secrets.password}\n`, { mode: 0o600 });
  if (owner) await fs.chown(pwfile, owner.uid, owner.gid);
  try {
    await runToEnd(initdb, [`--pgdata=${folder}`, '--username=postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256',
      '--encoding=UTF8', '--locale=C'], owner);
    await fs.writeFile(path.join(folder, SECRETS), JSON.stringify(secrets), { mode: 0o600 });
    await fs.rename(folder, clusterFolder(dataDir));
  } catch (err) {
    await fs.rm(folder, { recursive: true, force: true });
    // Another process initialised it meanwhile: theirs is the cluster.
    if (await exists(path.join(clusterFolder(dataDir), 'PG_VERSION'))) return;
    throw err;
  } finally {
    await fs.rm(pwfile, { force: true });
  }
}

/**
 * The sh between us and Postgres: $1 is the postgres binary, the rest its arguments. Postgres
 * starts with stdin from /dev/null (an asynchronous list's), the watcher reads our pipe (fd 3)
 * and on its end asks Postgres for a fast shutdown (SIGINT); the sh exits when Postgres does.
 */
const WATCHDOG = 'exec 3<&0; "$@" & pg=$!; (read -r _ <&3; kill -INT "$pg" 2>/dev/null) & wait "$pg"';

function launch(postgres: string, args: string[], owner: { uid: number; gid: number } | null): ChildProcess {
  const options: SpawnOptions = { ...owner, stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C' } };
  if (process.platform === 'win32') return spawn(postgres, args, options); // no sh: Postgres stops with us only through stop()
  return spawn('/bin/sh', ['-c', WATCHDOG, 'postgres-watchdog', postgres, ...args], { ...options, detached: true });
}

interface Running { child: ChildProcess; port: number; exited: Promise<unknown> }

/** Why a start failed in a way worth another try: the folder briefly held by another process (a CLI command), or the port taken meanwhile. */
const RETRYABLE = /lock file .* already exists|could not bind|could not create any TCP\/IP sockets/;

async function startOnce(dataDir: string, postgres: string, owner: { uid: number; gid: number } | null, onLog: (line: string) => void): Promise<Running> {
  const port = await freePort();
  const args = ['-D', clusterFolder(dataDir), '-p', String(port), ...Object.entries(SETTINGS).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const child = launch(postgres, args, owner);
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim()) onLog(line);
      if (output.includes('database system is ready to accept connections')) resolve();
    });
    child.once('error', (err) => reject(new EmbeddedPostgresUnavailable(`PostgreSQL could not be started (${err.message})`)));
    child.once('exit', (code) => reject(Object.assign(
      new Error(`The embedded PostgreSQL in ${clusterFolder(dataDir)} exited as it started (exit ${code}): ${output.trim()}`
        + (/lock file .* already exists/.test(output) ? ' Another process runs it: stop that process, or wait for it to end.' : '')),
      { retryable: RETRYABLE.test(output) },
    )));
  });
  const exited = once(child, 'exit');
  exited.catch(() => {});
  try {
    await ready;
  } catch (err) {
    child.stdin!.end();
    throw err;
  }
  return { child, port, exited };
}

/** Starts Postgres on the cluster (initialising it first on a new data folder) and waits until it accepts connections. */
export async function startCluster(dataDir: string, onLog: (line: string) => void = () => {}): Promise<EmbeddedCluster> {
  const { initdb, postgres } = await findBinaries();
  const owner = await runAs();
  await fs.mkdir(dataDir, { recursive: true });
  if (owner) await letThrough(dataDir);
  if (!(await exists(path.join(clusterFolder(dataDir), 'PG_VERSION')))) await initialise(dataDir, initdb, owner);
  const secrets = await readSecrets(dataDir);

  let running: Running | undefined;
  for (let attempt = 1; !running; attempt++) {
    try {
      running = await startOnce(dataDir, postgres, owner, onLog);
    } catch (err) {
      if (!(err as { retryable?: boolean }).retryable || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  const { child, port, exited } = running;
  return {
    url: urlFor(port, secrets),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (process.platform === 'win32') child.kill('SIGINT');
      else child.stdin!.end();
      await exited;
    },
  };
}
