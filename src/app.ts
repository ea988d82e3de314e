/**
 * Builds the service from its config: database, progress bus, GraphQL over HTTP and WebSocket,
 * worker pool. `main.ts` only wires the process to it; tests build one per file.
 */
import fs from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createYoga, maskError } from 'graphql-yoga';
import type { Tenant } from './auth/apiKeys.js';
import { drainInbox, serverPidFile, watchInbox } from './auth/keyInbox.js';
import type { Config } from './config.js';
import type { AppContext } from './api/context.js';
import type { Database } from './db/database.js';
import { openDatabase } from './db/openDatabase.js';
import { authPlugin, DATABASE_RETRY_AFTER, DATABASE_UNAVAILABLE } from './api/http/authPlugin.js';
import { isTransientDatabaseError } from './db/transientErrors.js';
import { GraphQLError } from 'graphql';
import { uploadPlugin, type NodeServerContext } from './api/http/uploadPlugin.js';
import { jsonBodyPlugin } from './api/http/jsonBodyPlugin.js';
import { attachWebSockets } from './api/http/websocket.js';
import { limitsPlugins } from './api/http/limitsPlugins.js';
import { subscriptionsOverWebSocketOnlyPlugin } from './api/http/subscriptionsOverWebSocket.js';
import { oneImportPerOperation } from './api/http/oneImportPerOperation.js';
import { createLogger, type Logger } from './logger.js';
import { ProgressBus } from './progress/progressBus.js';
import { schema } from './api/graphql/index.js';
import { RunnerPool } from './runner/runnerPool.js';
import { Metrics } from './ops/metrics.js';
import { opsRoutes } from './api/http/opsRoutes.js';
import { consoleRoutes } from './api/http/consoleRoutes.js';
import { reportRoutes } from './api/http/reportRoutes.js';
import { sweepSpool } from './spool/spool.js';
import { HashThreadError } from './spool/fileHashes.js';
import { openS3Spool, ORPHAN_AGE_MS, s3SpoolProblem, sweepS3Spool } from './spool/s3Spool.js';
import { sweepScratchFolder } from './spool/scratchFiles.js';
import { folderUploads, s3Uploads } from './intake/uploadStore.js';
import { BadRequest, checkRequest } from './api/http/requestTarget.js';
import { publicBaseUrl } from './api/http/publicUrl.js';
import { cutOffBodyAfterAnswer } from './api/http/answeredBodies.js';
import { isPartRequest, stagedPartRoutes } from './api/http/stagedPartRoutes.js';
import { folderStaging } from './intake/stagedUploads/folderStaging.js';
import { s3Staging } from './intake/stagedUploads/s3Staging.js';
import { sweepStagedUploads } from './intake/stagedUploads/stagedSweep.js';
import { openSecretBox, type SecretBox } from './webhooks/secretBox.js';
import { WebhookDispatcher } from './webhooks/webhookDispatcher.js';

export interface App {
  config: Config;
  db: Database;
  log: Logger;
  /** Listens on config.port (0 = any free port) and starts the workers; resolves to the base URL. */
  start(): Promise<string>;
  stop(): Promise<void>;
}

/** The server's own failure (no retry is known to mend it); the details go to the log only. */
const INTERNAL_ERROR_MESSAGE = 'The server failed on its side; the details are in its log';

const GRAPHIQL_EXAMPLE = `# Put your key in the Headers tab: { "Authorization": "Bearer bik_..." }
query RecentJobs {
  jobs(first: 10) {
    totalCount
    edges { node { id kind status rowsImported rowsFailed percentComplete createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}

# subscription Follow($id: ID!) {
#   jobProgress(id: $id) { status rowsProcessed rowsImported rowsFailed percentComplete insertRate }
# }
`;

export async function buildApp(config: Config, opts: { log?: Logger } = {}): Promise<App> {
  const log = opts.log ?? createLogger(config.logLevel);
  const s3Spool = config.spoolS3 ? await openS3Spool(config.spoolS3, config.s3Endpoint) : null;
  if (s3Spool) {
    const problem = await s3SpoolProblem(s3Spool);
    if (problem) {
      s3Spool.client.destroy();
      s3Spool.presignClient.destroy();
      throw new Error(`SPOOL_URL=${s3Spool.url}: ${problem}`);
    }
  }
  const db = await openDatabase(config, { log: { warn: (msg) => log.warn(msg), debug: (msg) => log.debug({ postgres: msg }, 'embedded PostgreSQL') } });
  const uploads = s3Spool ? s3Uploads(s3Spool, config.spoolDir, log) : folderUploads(config.spoolDir);
  const staged = s3Spool ? s3Staging(s3Spool, log) : folderStaging(config.spoolDir);
  const sweep = async () => {
    const { keep } = await sweepStagedUploads(db, staged, log);
    if (!s3Spool) return sweepSpool(db, config.spoolDir, config.spoolRetentionMs, log, keep);
    // The uploads' scratch files are local whatever the spool (intake/uploadStore.ts).
    return await sweepS3Spool(db, s3Spool, config.spoolRetentionMs, log, undefined, keep) + await sweepScratchFolder(db, config.spoolDir, ORPHAN_AGE_MS, log);
  };
  const bus = new ProgressBus(db);
  const metrics = new Metrics(db);
  const tenants = new WeakMap<Request, Tenant>();
  let secretBox: Promise<SecretBox> | null = null;
  const webhookSecrets = () => {
    secretBox ??= openSecretBox(config).catch((err) => { secretBox = null; throw err; });
    return secretBox;
  };

  const yoga = createYoga<NodeServerContext, AppContext>({
    schema,
    graphqlEndpoint: '/graphql',
    multipart: false,
    maxRequestBodySize: false,
    batching: false,
    logging: false,
    graphiql: config.production ? false : { title: 'Bulk import', defaultQuery: GRAPHIQL_EXAMPLE, headers: JSON.stringify({ Authorization: 'Bearer <your API key>' }) },
    // GraphiQL's scripts, styles and editor workers inlined in the page, not fetched from a CDN:
    // the page works offline and behind a proxy that blocks CDNs. The module holds ~9 MB of
    // scripts, so it is loaded on the page's first request, not by every server (nor in production).
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    // Unexpected errors reach clients as "Unexpected error." and are logged in full here.
    maskedErrors: {
      maskError: (error, message, isDev) => {
        const original = (error as { originalError?: unknown }).originalError ?? error;
        if (isTransientDatabaseError(original)) {
          return new GraphQLError(DATABASE_UNAVAILABLE.message, { extensions: { ...DATABASE_UNAVAILABLE.extensions, http: { status: 503, headers: { 'retry-after': DATABASE_RETRY_AFTER } } } });
        }
        // Reading an upload back failed on the server (spool/fileHashes.ts): its own error, said as
        // such (500), where a masked error would answer 200 and a store's failure 503 "try again".
        if (original instanceof HashThreadError) {
          log.error({ err: original }, 'hashing an upload failed');
          return new GraphQLError(INTERNAL_ERROR_MESSAGE, { extensions: { code: 'INTERNAL', http: { status: 500 } } });
        }
        const masked = maskError(error, message, isDev);
        if (masked !== error) log.error({ err: error }, 'unexpected error');
        return masked;
      },
    },
    plugins: [authPlugin(db, tenants, { graphiql: !config.production }), uploadPlugin(config.uploadIdleTimeoutMs), oneImportPerOperation(), jsonBodyPlugin(config.maxJsonBodyBytes, config.uploadIdleTimeoutMs), subscriptionsOverWebSocketOnlyPlugin(), ...limitsPlugins(config)],
    context: ({ request, ...initial }) => {
      const fromSocket = initial as { tenant?: Tenant; congested?: () => boolean };
      const tenant = fromSocket.tenant ?? tenants.get(request);
      if (!tenant) throw new Error('no tenant on an authenticated operation');
      // The base of the absolute URLs we hand out (Job.errorReportUrl); never the client's Host header.
      const headers = (initial as { req?: IncomingMessage }).req?.headers;
      const origin = publicBaseUrl(config, headers, server.address());
      return { db, bus, config, log, metrics, uploads, staged, s3Spool, tenant, origin, webhookSecrets, congested: fromSocket.congested };
    },
  });

  const ops = opsRoutes(db, metrics, log, s3Spool ? () => s3SpoolProblem(s3Spool) : null);
  const reports = reportRoutes(db);
  const parts = stagedPartRoutes({ db, log, metrics, uploadIdleTimeoutMs: config.uploadIdleTimeoutMs });
  // With an S3 spool the console PUTs staged parts to the store: its endpoint, or AWS's S3 hosts.
  const consolePage = consoleRoutes(s3Spool ? [config.s3Endpoint ? new URL(config.s3Endpoint).origin : 'https://*.amazonaws.com'] : []);
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    checkRequest(req);
    if (!(await ops(req, res)) && !(await reports(req, res)) && !(await parts(req, res)) && !(await consolePage(req, res))) yoga(req, res);
  };
  const server: Server = createServer((req, res) => {
    cutOffBodyAfterAnswer(req, res);
    route(req, res).catch((err) => {
      if (err instanceof BadRequest) {
        log.debug({ reason: err.message }, 'bad request refused');
        if (!res.headersSent) res.writeHead(err.status, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ message: err.message, extensions: { code: 'BAD_REQUEST' } }] }));
        return;
      }
      if (isTransientDatabaseError(err)) {
        if (!res.headersSent) res.writeHead(503, { 'content-type': 'application/json', 'retry-after': DATABASE_RETRY_AFTER }).end(JSON.stringify({ errors: [DATABASE_UNAVAILABLE] }));
        return;
      }
      log.error({ err }, 'request routing failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  // Node answers `Expect: 100-continue` itself unless told otherwise, before any route has looked
  // at the request: a part PUT is asked for its body only once its URL and length are accepted
  // (stagedPartRoutes), so a refused part is answered before the client sends megabytes for
  // nothing; every other request is asked at once, as Node would.
  server.on('checkContinue', (req, res) => {
    if (!isPartRequest(req)) res.writeContinue();
    server.emit('request', req, res);
  });
  // Node bounds a whole request to five minutes by default, which cuts off a 1 GiB upload over any
  // uplink slower than ~3.6 MB/s. Bodies are bounded by a pause instead (UPLOAD_IDLE_TIMEOUT_MS,
  // in the multipart and JSON readers), and headers still by Node's headersTimeout.
  server.requestTimeout = 0;
  // A flood of sockets that send nothing must not use up the process's file descriptors (the
  // spool's files and the database need some): past MAX_CONNECTIONS a new connection is closed as
  // it arrives. Those held are freed by Node's own timers, restated here so that they stay: a
  // connection must send its headers within headersTimeout, and an idle keep-alive one is closed
  // after keepAliveTimeout.
  server.maxConnections = config.maxConnections;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  const sockets = attachWebSockets(server, yoga as never, db, log, {
    maxSubscriptionsPerTenant: config.maxSubscriptionsPerTenant, maxPendingWebSockets: config.maxPendingWebSockets, maxMessageBytes: config.maxJsonBodyBytes,
    maxWebSocketsPerTenant: config.maxWebSocketsPerTenant,
  });
  const pool = new RunnerPool(db, bus, log, metrics, { ...config, concurrency: config.workerConcurrency, sliceMs: config.jobSliceMs, s3Spool });
  const webhooks = new WebhookDispatcher(db, webhookSecrets, log, {
    retryScheduleMs: config.webhookRetryScheduleMs, pollIntervalMs: config.pollIntervalMs, timeoutMs: config.webhookTimeoutMs,
    allowInsecure: config.allowInsecureSourceUrls, allowPrivate: config.allowPrivateSourceAddresses, caFile: config.sourceCaFile,
  });
  let stopInbox = () => {};
  let stopSweeper = () => {};

  return {
    config,
    db,
    log,
    async start() {
      await bus.start();
      if (db.driver === 'pglite') {
        await fs.writeFile(serverPidFile(config.dataDir), String(process.pid));
        await drainInbox(db, config.dataDir);
        stopInbox = watchInbox(db, config.dataDir, 300, (err) => log.error({ err }, 'key inbox failed'));
      }
      await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
      await sweep();
      const sweeper = setInterval(() => {
        sweep().catch((err) => log.warn({ err }, 'spool sweep failed'));
      }, 60_000);
      sweeper.unref();
      stopSweeper = () => clearInterval(sweeper);
      pool.start();
      await webhooks.start();
      const { port } = server.address() as AddressInfo;
      const url = `http://localhost:${port}`;
      log.info({ url: `${url}/graphql`, database: db.driver }, 'bulk-import listening');
      return url;
    },
    async stop() {
      stopInbox();
      stopSweeper();
      server.close(); // no new connections; open ones finish below
      // Runners finish or hand back the batch in hand, webhook attempts in flight end; past the grace period we exit anyway and
      // the job's lease expiry hands it to another runner, from its last checkpoint.
      const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
      await Promise.race([Promise.all([pool.stop(), webhooks.stop()]), grace]);
      await sockets.close();
      await bus.stop();
      server.closeAllConnections();
      await db.close();
      if (db.driver === 'pglite') await fs.rm(serverPidFile(config.dataDir), { force: true });
    },
  };
}
