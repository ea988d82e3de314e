import net from 'node:net';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import { copyStatement, type Database, type Orm, type Transaction } from './database.js';
import { schema } from './schema.js';
import { passCopyDataThrough, PASS_THROUGH_MIN_BYTES, standInFor } from './copyPassThrough.js';
import { MIGRATIONS_FOLDER } from './migrations.js';
import { LockIds } from './lockIds.js';
import { boundAnswerWait, DEFAULT_ANSWER_TIMEOUT_MS } from './answerTimeout.js';

/**
 * postgres.js leaves Nagle's algorithm on. After a large COPY write, the small CopyDone and
 * COMMIT messages then wait for the server's delayed ACK, every batch, a large share of the import
 * time (docs/performance.md). So connections are opened with noDelay,
 * on a socket that also sends a COPY's data as it is (copyPassThrough.ts).
 *
 * The socket is handed over still connecting, not once connected: postgres.js listens for its
 * error and close only on a socket it was given, so a connection refused before that (the database
 * away) left its slot of the pool "connecting" for ever. Once every slot was lost so, each query
 * waited for ever, and went on waiting after the database was back. postgres.js writes the startup
 * message at once, which the socket holds until it is connected.
 */
function noDelaySocket(options: ConnectionOptions): net.Socket {
  const socket = options.path
    ? net.connect({ path: options.path })
    : net.connect({ host: options.host[0], port: options.port[0], noDelay: true });
  if (isPlain(options)) passCopyDataThrough(socket);
  return socket;
}

/**
 * noDelaySocket, on which a statement left without an answer fails after `answerTimeoutMs`
 * (answerTimeout.ts). Only plain sockets are watched: through TLS the protocol cannot be followed
 * from here, and only the operating system's TCP keepalive (postgres.js turns it on) and
 * retransmission limits end a silent connection.
 */
const answerBoundSocket = (answerTimeoutMs: number) => (options: ConnectionOptions): net.Socket => {
  const socket = noDelaySocket(options);
  if (isPlain(options)) boundAnswerWait(socket, answerTimeoutMs);
  return socket;
};

interface ConnectionOptions { host: string[]; port: number[]; path?: string; ssl?: unknown }

/**
 * Whether connections stay on our own socket: with TLS, postgres.js talks through a TLS socket
 * wrapped around it, where COPY data cannot be swapped in (copyPassThrough.ts), so it is not.
 */
const isPlain = (options: ConnectionOptions) => !options.ssl || options.ssl === 'disable';

export interface PostgresOptions {
  /**
   * Postgres ends a session left idle inside a transaction this long (a runner frozen mid-batch),
   * releasing the job row's lock so that another runner can take the job over after its lease.
   */
  idleInTransactionTimeoutMs?: number;
  /**
   * A direct (session) connection to the same database, when `url` goes through a
   * transaction-mode pooler (PgBouncer, Supavisor, RDS Proxy): LISTEN and migrations need a
   * session of their own, which a pooler hands out only for one transaction at a time.
   */
  directUrl?: string;
  /** Closes a pooled connection left unused this long (each is a Postgres process); never when unset. */
  idleConnectionTimeoutS?: number;
  /**
   * How long a statement may wait without a byte from the database before its connection is
   * closed and it fails as transient (answerTimeout.ts); DEFAULT_ANSWER_TIMEOUT_MS when unset, 0: no bound.
   */
  answerTimeoutMs?: number;
}

/** Migrates the database at `url` (its public schema), then opens the service's pool on it. */
export async function openPostgres(url: string, opts: PostgresOptions = {}): Promise<Database> {
  await runMigrations(opts.directUrl ?? url);
  return connectPostgres(url, opts);
}

export interface ConnectOptions extends PostgresOptions {
  /** The schema holding the service's tables, when not public; its migrations are the caller's (the core tests' schema per test). */
  schema?: string;
  /** How the pool's sessions show in pg_stat_activity; 'bulk-import' unless given. */
  applicationName?: string;
}

/** How long an attempt to connect may take (the handshake included) before it fails as transient. */
export const CONNECT_TIMEOUT_S = 10;

/** After failed attempts, a slot of the pool tries again 50 ms later, doubling up to 2 s (with jitter). */
const reconnectDelayS = (failures: number) => Math.min(2, 0.05 * 2 ** failures) * (0.5 + Math.random() / 2);

/** Opens the service's pool without migrating anything. */
export function connectPostgres(url: string, opts: ConnectOptions = {}): Database {
  const pooled = opts.directUrl !== undefined && opts.directUrl !== url;
  const socket = answerBoundSocket(opts.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS);
  if (pooled && opts.schema) throw new Error('a schema other than public needs a session setting (search_path), which a transaction-mode pooler cannot carry');
  const sql = postgres(url, {
    max: 10,
    ...(opts.idleConnectionTimeoutS ? { idle_timeout: opts.idleConnectionTimeoutS } : {}),
    // A transaction-mode pooler may run each statement on a different server connection, where
    // a statement prepared on another does not exist; unnamed statements are parsed every time.
    prepare: !pooled,
    // an option postgres.js supports but does not type
    ...({ socket } as object),
    // While the database is away a request waits for at most one attempt to connect, answered 503
    // then (docs/operations.md): postgres.js's own defaults (30 s to connect, up to 20 s between
    // attempts once several failed) would keep it past what clients and proxies wait.
    connect_timeout: CONNECT_TIMEOUT_S,
    backoff: reconnectDelayS,
    onnotice: () => {},
    // Timestamps without a zone in imported files mean UTC (docs/files.md), whatever the server's
    // default. Only parameters a pooler tracks (TimeZone, application_name) are set at startup;
    // the idle-in-transaction timeout is set in each transaction (below).
    connection: {
      TimeZone: 'UTC',
      application_name: opts.applicationName ?? 'bulk-import',
      ...(opts.schema ? { search_path: opts.schema } : {}),
    },
    // int8 (counts, offsets) as JS numbers: every value we store fits in 2^53.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
  const passThrough = isPlain((sql as unknown as { options: ConnectionOptions }).options);
  const orm = drizzle(sql, { schema }) as unknown as Orm;

  const wrap = (exec: postgres.Sql | postgres.TransactionSql): Transaction => ({
    query: async <T>(text: string, params: unknown[] = []) =>
      (await exec.unsafe(text, params as postgres.ParameterOrJSON<never>[])) as unknown as T[],
    copy: async (table, columns, data, format) => {
      const query = exec.unsafe(copyStatement(table, columns, 'STDIN', format));
      // postgres.js issue #1173 (fixed upstream in PR #1183, not released): when Postgres rejects
      // the COPY's data, the writable neither finishes nor errors, and the error goes to the
      // query's reject(), a no-op by then (the query already resolved to the writable). Waiting
      // on the writable alone would hang the transaction, idle in an aborted transaction with the
      // job row locked. So the error is caught on its way to reject().
      let rejected!: (err: unknown) => void;
      const failed = new Promise<never>((_, reject) => { rejected = reject; });
      failed.catch(() => {});
      const copyQuery = query as unknown as { reject: (err: unknown) => void };
      const reject = copyQuery.reject;
      copyQuery.reject = (err) => { rejected(err); reject(err); };
      const writable = await query.writable();
      // Large binary data goes as a stand-in the socket swaps back (copyPassThrough.ts).
      const standIn = passThrough && typeof data !== 'string' && data.length >= PASS_THROUGH_MIN_BYTES ? standInFor(data) : null;
      const finished = new Promise<void>((resolve, reject) => {
        writable.on('error', reject);
        writable.on('finish', resolve);
        writable.end(standIn?.chunk ?? data);
      });
      finished.catch(() => {});
      try {
        await Promise.race([finished, failed]);
      } finally {
        standIn?.release();
      }
    },
  });
  const root = wrap(sql);
  const idleTimeout = opts.idleInTransactionTimeoutMs ? String(opts.idleInTransactionTimeoutMs) : null;
  // LISTEN holds a session for as long as it listens: on the direct URL when there is a pooler.
  const listener = pooled ? postgres(opts.directUrl!, { max: 1, onnotice: () => {}, ...({ socket } as object), connection: { application_name: opts.applicationName ?? 'bulk-import' } }) : sql;

  return {
    driver: 'postgres',
    orm,
    query: root.query,
    transaction: (fn) => sql.begin(async (tx) => {
      // Local to the transaction, so that it holds on whichever server connection a pooler gave it:
      // Postgres ends a transaction left idle this long (a frozen runner), releasing its locks.
      if (idleTimeout) await tx.unsafe("select set_config('idle_in_transaction_session_timeout', $1, true)", [idleTimeout]);
      return fn(wrap(tx));
    }) as Promise<never>,
    notify: async (channel, payload) => { await sql.notify(channel, payload); },
    listen: async (channel, onPayload) => {
      const { unlisten } = await listener.listen(channel, onPayload);
      return unlisten;
    },
    close: async () => {
      await Promise.all([sql.end({ timeout: 5 }), listener === sql ? null : listener.end({ timeout: 5 })]);
    },
  };
}

/**
 * Migrations run on one dedicated connection (a session: the direct URL behind a pooler) under a
 * session advisory lock, so instances that start together take turns.
 */
async function runMigrations(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${LockIds.MIGRATIONS})`;
    await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_FOLDER });
    await sql`select pg_advisory_unlock(${LockIds.MIGRATIONS})`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * postgres.js 3.4.9 can throw from a timer after a connection dies mid-transaction: `begin`
 * sends ROLLBACK on the closed connection, and its deferred write finds no socket ("Cannot read
 * properties of null (reading 'write')" in connection.js nextWrite). Nothing is lost by then: the
 * transaction's promise has already rejected (the connection closed) and the batch is retried.
 * main.ts lets exactly this error pass instead of crashing the process.
 */
export function isWriteAfterCloseBug(err: unknown): boolean {
  return err instanceof TypeError
    && err.message === "Cannot read properties of null (reading 'write')"
    && /postgres[\\/]src[\\/]connection\.js/.test(err.stack ?? '');
}
