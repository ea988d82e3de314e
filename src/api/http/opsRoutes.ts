/**
 * Endpoints for operators, outside GraphQL and without an API key: /healthz (the process is up),
 * /readyz (the database answers and its migrations are applied; an S3 spool takes our credentials
 * and has its bucket), /metrics (Prometheus).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../../db/database.js';
import type { Metrics } from '../../ops/metrics.js';
import { jobsTableAnswers } from '../../jobs/jobStore.js';
import { requestPath } from './requestTarget.js';
import { isTransientDatabaseError } from '../../db/transientErrors.js';
import type { Logger } from '../../logger.js';

/** `spoolProblem`: why the S3 spool cannot be used, or null; absent for a folder spool. */
export function opsRoutes(db: Database, metrics: Metrics, log: Logger, spoolProblem: (() => Promise<string | null>) | null = null) {
  const send = (res: ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  /** Answers the request and returns true when it is one of ours. */
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = requestPath(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    if (path === '/healthz') {
      send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
      return true;
    }
    if (path === '/readyz') {
      try {
        // Migrations run before the server listens; this proves the database answers with our schema.
        await jobsTableAnswers(db);
        const spool = await spoolProblem?.();
        if (spool) {
          send(res, 503, 'application/json', JSON.stringify({ status: 'unavailable', reason: `the spool store: ${spool}` }));
          return true;
        }
        send(res, 200, 'application/json', JSON.stringify({ status: 'ready', database: db.driver }));
      } catch (err) {
        // The probe needs no key: it says which dependency failed, never the driver's message
        // (host names, user names); that goes to the log.
        log.warn({ err }, 'readiness check failed');
        const reason = isTransientDatabaseError(err) ? 'the database is unreachable' : 'the database answered with an error';
        send(res, 503, 'application/json', JSON.stringify({ status: 'unavailable', reason }));
      }
      return true;
    }
    if (path === '/metrics') {
      send(res, 200, metrics.registry.contentType, await metrics.registry.metrics());
      return true;
    }
    return false;
  };
}
