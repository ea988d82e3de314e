import path from 'node:path';
import { silenceTimeoutMs } from './parse/storeClient.js';

/** Every setting the service reads from the environment, with its default. The README's settings table mirrors this. */
export interface Config {
  port: number;
  host: string;
  /** Postgres URL; when unset the service runs an embedded database under dataDir (embeddedDatabase). */
  databaseUrl: string | undefined;
  /**
   * The embedded database with no databaseUrl: a PostgreSQL the service starts from the binaries
   * npm installed (db/embeddedCluster.ts), or the in-process PGlite, where those cannot run.
   */
  embeddedDatabase: EmbeddedDatabase;
  /**
   * A direct (session) connection to the same database, for LISTEN and migrations, when
   * databaseUrl goes through a transaction-mode pooler; unset: databaseUrl.
   */
  databaseDirectUrl: string | undefined;
  /**
   * DATABASE_ANSWER_TIMEOUT_MS: how long a statement waits without a byte from the database (its
   * host frozen, its network path silently dropping packets) before its connection is closed and
   * it fails as the database being away does (db/answerTimeout.ts); 0: no bound.
   */
  databaseAnswerTimeoutMs: number;
  dataDir: string;
  /** The folder spool (SPOOL_URL as a path, or its alias SPOOL_DIR); the default. */
  spoolDir: string;
  /** SPOOL_URL=s3://bucket/prefix: uploads are spooled in that S3 store instead (spool/s3Spool.ts). */
  spoolS3: S3SpoolLocation | null;
  /** The S3 store's URL when it is not AWS (Ceph, MinIO, R2); addressed path-style. */
  s3Endpoint: string | undefined;
  /** S3_TIMEOUT_MS: how long a store's connection may stay silent before the request fails and is retried. */
  s3TimeoutMs: number;
  /** How long an ended job's spool file is kept (0: removed as the job ends, or kept as a spare). */
  spoolRetentionMs: number;
  /** How many completed uploads' files the spool keeps for later uploads to write over (spool/spoolSpares.ts). */
  spoolSpareFiles: number;
  maxFileSize: number;
  /** What a gzipped, XLSX or non-UTF-8 file may grow to, decompressed or converted to UTF-8, as spooled (intake/fileDecoding.ts). */
  maxUncompressedSize: number;
  /** What an XLSX workbook's shared strings (held in memory while its sheet is read) may unzip to (intake/xlsxWorkbook.ts). */
  maxXlsxSharedStrings: number;
  /** The spool's total: its files plus what arriving uploads may still write; past it uploads get a 503 (spool/spoolReservations.ts). */
  spoolMaxBytes: number;
  maxActiveJobsPerTenant: number;
  /** A tenant's files arriving into the spool at once (uploads, downloads), across instances. */
  maxConcurrentUploadsPerTenant: number;
  /** How long a staged upload (createStagedUpload) and its part URLs stay valid; past it the sweep removes what was sent. */
  stagedUploadTtlMs: number;
  /** An upload whose client sends nothing for this long is cut off (its connection closed, its tenant's slot freed). */
  uploadIdleTimeoutMs: number;
  workerConcurrency: number;
  /** How long a job runs before, at a batch boundary, it makes way for another tenant's waiting job (0: never). */
  jobSliceMs: number;
  batchSize: number;
  leaseMs: number;
  pollIntervalMs: number;
  progressIntervalMs: number;
  /** At SIGTERM: how long runners may take to finish or hand back their batch before the process exits anyway. */
  shutdownGraceMs: number;
  /**
   * The service's public base URL (behind a proxy, maybe with a path prefix), without a trailing
   * slash: absolute URLs it hands out start with it (http/publicUrl.ts).
   */
  publicUrl: string | undefined;
  /** Unset publicUrl: take the public URL from X-Forwarded-Proto/Host (a proxy in front sets them). */
  trustProxy: boolean;
  logLevel: string;
  /** Production turns GraphQL introspection and GraphiQL off. */
  production: boolean;
  graphqlMaxDepth: number;
  graphqlMaxAliases: number;
  graphqlMaxTokens: number;
  graphqlMaxCost: number;
  maxSubscriptionsPerTenant: number;
  /** JSON request bodies (queries, importBatch) larger than this are refused with 413; a WebSocket message larger than this closes its socket (1009). */
  maxJsonBodyBytes: number;
  /** WebSockets still waiting for (or authenticating) their connection_init; past this, new ones are refused with 503. */
  maxPendingWebSockets: number;
  /** Authenticated WebSockets one tenant may hold open at once; more are closed with 4429. */
  maxWebSocketsPerTenant: number;
  /** Connections (HTTP and WebSocket) the server holds open at once; past this, new ones are closed as they arrive. */
  maxConnections: number;
  /** importFromUrl: also accept plain http:// URLs and S3 endpoints (local test servers, an in-house MinIO). */
  allowInsecureSourceUrls: boolean;
  /** importFromUrl: also fetch from loopback, private and link-local addresses (off: a tenant cannot reach our internal network). */
  allowPrivateSourceAddresses: boolean;
  /** importFromUrl: how long a source may take to connect, answer, or send its next bytes. */
  sourceTimeoutMs: number;
  /** importFromUrl: how long the whole download may take. */
  sourceDeadlineMs: number;
  /** importFromUrl: a PEM file of extra CA certificates to trust for sources (a private CA), on top of Node's. */
  sourceCaFile: string | undefined;
  /**
   * The key (32 bytes, base64) that encrypts webhook signing secrets at rest. Every instance on one
   * database needs the same; unset: a key file in dataDir, made on first use (one instance only).
   */
  webhookSecretsKey: string | undefined;
  /** The waits before each retry of a webhook delivery; past the last, the delivery is given up. */
  webhookRetryScheduleMs: number[];
  /** How long a webhook receiver may take to connect and answer. */
  webhookTimeoutMs: number;
}

export type EmbeddedDatabase = 'postgres' | 'pglite';

function embeddedDatabase(env: NodeJS.ProcessEnv): EmbeddedDatabase {
  const raw = (env.EMBEDDED_DATABASE || 'postgres').trim().toLowerCase();
  if (raw !== 'postgres' && raw !== 'pglite') throw new Error(`EMBEDDED_DATABASE must be postgres or pglite, got "${env.EMBEDDED_DATABASE}"`);
  return raw;
}

export interface S3SpoolLocation { bucket: string; prefix: string }

/**
 * SPOOL_URL is a folder path or s3://bucket/prefix; SPOOL_DIR, the older name, is a folder path.
 * Both set to different places is a mistake, not a choice between them.
 */
function spoolLocation(env: NodeJS.ProcessEnv, dataDir: string): { spoolDir: string; spoolS3: S3SpoolLocation | null } {
  const url = env.SPOOL_URL || '';
  const dir = env.SPOOL_DIR || '';
  if (!url.startsWith('s3://')) {
    if (url && dir && path.resolve(url) !== path.resolve(dir)) throw new Error(`SPOOL_URL ("${url}") and SPOOL_DIR ("${dir}") name different spools; set only SPOOL_URL`);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) throw new Error(`SPOOL_URL must be a folder path or s3://bucket/prefix, got "${url}"`);
    return { spoolDir: path.resolve(url || dir || path.join(dataDir, 'spool')), spoolS3: null };
  }
  if (dir) throw new Error('SPOOL_URL is an s3:// URL and SPOOL_DIR a folder: set only one of them');
  const [bucket = '', ...rest] = url.slice('s3://'.length).split('/');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`SPOOL_URL must name a bucket, like s3://imports/spool, got "${url}"`);
  const prefix = rest.filter(Boolean).join('/');
  return { spoolDir: path.join(dataDir, 'spool'), spoolS3: { bucket, prefix: prefix ? `${prefix}/` : '' } };
}

function bool(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? '').trim().toLowerCase();
  if (raw === '' || raw === '0' || raw === 'false' || raw === 'no') return false;
  if (raw === '1' || raw === 'true' || raw === 'yes') return true;
  throw new Error(`${name} must be true or false, got "${env[name]}"`);
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A list of durations such as `5s,5m,30m,2h` (units ms, s, m, h), in milliseconds. */
export function parseDurations(raw: string, name: string): number[] {
  return raw.split(',').map((part) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$/.exec(part);
    if (!match) throw new Error(`${name} must be a comma-separated list of durations like 5s,5m,30m,2h (units ms, s, m, h), got "${raw}"`);
    return Math.round(Number(match[1]) * DURATION_UNITS[match[2]]);
  });
}

/** The Standard Webhooks retry schedule: eight attempts over about 27 hours. */
const WEBHOOK_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,10h';

/**
 * A base URL as PUBLIC_URL must be: absolute, http(s), no user, password, query or fragment;
 * returned without a trailing slash, so a route's path joins on it as it is.
 */
export function parseBaseUrl(raw: string, name = 'PUBLIC_URL'): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} must be an absolute http:// or https:// URL, like https://imports.example.com, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${name} must be an http:// or https:// URL, got "${raw}"`);
  if (url.username || url.password || url.search || url.hash || raw.includes('#') || raw.includes('?')) {
    throw new Error(`${name} must be a base URL without user, password, query or fragment (like https://imports.example.com/api), got "${raw}"`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const dataDir = path.resolve(env.DATA_DIR || 'data');
  const maxFileSize = int(env, 'MAX_FILE_SIZE', 1024 ** 3);
  const config: Config = {
    port: int(env, 'PORT', 4000),
    host: env.HOST || '0.0.0.0',
    databaseUrl: env.DATABASE_URL || undefined,
    databaseDirectUrl: env.DATABASE_DIRECT_URL || undefined,
    // Generous for the longest statements on the pool (db/answerTimeout.ts DEFAULT_ANSWER_TIMEOUT_MS),
    // and within what clients and proxies wait for an answer.
    databaseAnswerTimeoutMs: int(env, 'DATABASE_ANSWER_TIMEOUT_MS', 60_000),
    embeddedDatabase: embeddedDatabase(env),
    dataDir,
    ...spoolLocation(env, dataDir),
    s3Endpoint: env.S3_ENDPOINT ? parseBaseUrl(env.S3_ENDPOINT, 'S3_ENDPOINT') : undefined,
    // Read by every thread's store client from the environment (parse/storeClient.ts); checked here, at start.
    s3TimeoutMs: silenceTimeoutMs({ S3_TIMEOUT_MS: env.S3_TIMEOUT_MS }),
    spoolRetentionMs: int(env, 'SPOOL_RETENTION_MS', 0),
    spoolSpareFiles: int(env, 'SPOOL_SPARE_FILES', 2),
    maxFileSize,
    maxUncompressedSize: int(env, 'MAX_UNCOMPRESSED_SIZE', 4 * maxFileSize),
    maxXlsxSharedStrings: int(env, 'MAX_XLSX_SHARED_STRINGS', 256 * 1024 ** 2),
    // Room for eight files of the largest size, queued or arriving.
    spoolMaxBytes: int(env, 'SPOOL_MAX_BYTES', 8 * maxFileSize),
    maxActiveJobsPerTenant: int(env, 'MAX_ACTIVE_JOBS_PER_TENANT', 1),
    maxConcurrentUploadsPerTenant: int(env, 'MAX_CONCURRENT_UPLOADS_PER_TENANT', 1),
    uploadIdleTimeoutMs: int(env, 'UPLOAD_IDLE_TIMEOUT_MS', 60_000),
    // A day: time for a 1 GiB file over a slow uplink, with restarts. S3 presigned URLs cap at 7 days.
    stagedUploadTtlMs: int(env, 'STAGED_UPLOAD_TTL_MS', 24 * 60 * 60_000),
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 2),
    // Short, so that a tenant that arrives waits about a slice for a runner; tenants whose long
    // jobs take turns switch only every few slices (runner/runnerPool.ts), since a hand-back (its
    // commits drained, a parse thread started again at the checkpoint) costs its job time.
    jobSliceMs: int(env, 'JOB_SLICE_MS', 1000),
    // Each batch is a transaction of its own (COPY, job row, checkpoint, COMMIT), and its costs
    // are paid per batch by Postgres and by the server alike, so larger batches import faster.
    // Memory bounds them: each batch parsed and not yet committed takes a parse slot
    // (parsedBatches.ts), sized for a batch of this many events rows (docs/performance.md).
    batchSize: int(env, 'BATCH_SIZE', 20_000),
    leaseMs: int(env, 'LEASE_MS', 30_000),
    pollIntervalMs: int(env, 'POLL_INTERVAL_MS', 1000),
    progressIntervalMs: int(env, 'PROGRESS_INTERVAL_MS', 250),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000),
    logLevel: env.LOG_LEVEL || 'info',
    production: env.NODE_ENV === 'production',
    graphqlMaxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 10),
    graphqlMaxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 15),
    graphqlMaxTokens: int(env, 'GRAPHQL_MAX_TOKENS', 2000),
    // Room for the largest pages the API serves (1,000 row errors of a job cost about 51,000).
    graphqlMaxCost: int(env, 'GRAPHQL_MAX_COST', 100_000),
    maxSubscriptionsPerTenant: int(env, 'MAX_SUBSCRIPTIONS_PER_TENANT', 50),
    maxJsonBodyBytes: int(env, 'MAX_JSON_BODY_BYTES', 16 * 1024 * 1024),
    maxPendingWebSockets: int(env, 'MAX_PENDING_WEBSOCKETS', 256),
    maxWebSocketsPerTenant: int(env, 'MAX_WEBSOCKETS_PER_TENANT', 50),
    maxConnections: int(env, 'MAX_CONNECTIONS', 4096),
    allowInsecureSourceUrls: bool(env, 'ALLOW_INSECURE_SOURCE_URLS'),
    allowPrivateSourceAddresses: bool(env, 'ALLOW_PRIVATE_SOURCE_ADDRESSES'),
    sourceTimeoutMs: int(env, 'SOURCE_TIMEOUT_MS', 30_000),
    // 1 GiB at ~1 MB/s: a slow but steady source still makes it; one that drips does not.
    sourceDeadlineMs: int(env, 'SOURCE_DEADLINE_MS', 30 * 60_000),
    sourceCaFile: env.SOURCE_CA_FILE ? path.resolve(env.SOURCE_CA_FILE) : undefined,
    webhookSecretsKey: env.WEBHOOK_SECRETS_KEY || undefined,
    webhookRetryScheduleMs: parseDurations(env.WEBHOOK_RETRY_SCHEDULE || WEBHOOK_RETRY_SCHEDULE, 'WEBHOOK_RETRY_SCHEDULE'),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 15_000),
    publicUrl: env.PUBLIC_URL || undefined,
    trustProxy: bool(env, 'TRUST_PROXY'),
    ...overrides,
  };
  // Node reads a maxConnections of 0 as no cap at all, the opposite of what 0 says.
  if (config.maxConnections < 1) throw new Error(`MAX_CONNECTIONS must be at least 1, got ${config.maxConnections}`);
  if (config.databaseDirectUrl && !config.databaseUrl) {
    throw new Error('DATABASE_DIRECT_URL is set but DATABASE_URL is not: set DATABASE_URL to the (pooled) URL the service queries through');
  }
  return { ...config, publicUrl: config.publicUrl === undefined ? undefined : parseBaseUrl(config.publicUrl) };
}
