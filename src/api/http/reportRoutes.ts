/**
 * GET /jobs/<job id>/errors.csv: the job's error report (reports/errorReport.ts), for the job's
 * own tenant only (Authorization: Bearer <key>, like every other request); another tenant's job
 * is a 404, exactly like a job that does not exist.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { authenticate } from '../../auth/apiKeys.js';
import type { Database } from '../../db/database.js';
import { getJob } from '../../jobs/jobStore.js';
import { jobIdFromGlobalId } from '../../jobs/globalIds.js';
import { errorReportLines } from '../../reports/errorReport.js';
import { requestPath } from './requestTarget.js';

const REPORT_PATH = /^\/jobs\/([A-Za-z0-9+/=_-]+)\/errors\.csv$/;

export function errorReportPath(globalJobId: string): string {
  return `/jobs/${encodeURIComponent(globalJobId)}/errors.csv`;
}

function clientWentAway(res: ServerResponse, err: unknown): boolean {
  return res.destroyed && !res.writableFinished && (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE';
}

export function reportRoutes(db: Database) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.method !== 'GET') return false;
    const match = REPORT_PATH.exec(requestPath(req));
    if (!match) return false;
    const tenant = await authenticate(db, req.headers.authorization);
    if (!tenant) {
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' }).end('A valid API key is required: send Authorization: Bearer <key>\n');
      return true;
    }
    const id = jobIdFromGlobalId(match[1]);
    const job = id ? await getJob(db, tenant.id, id) : null;
    if (!job) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Job not found\n');
      return true;
    }
    res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="job-${job.id}-errors.csv"`,
      'cache-control': 'no-store',
    });
    try {
      await pipeline(Readable.from(errorReportLines(db, job.id)), res);
    } catch (err) {
      // A client that hangs up before the end of its report (a cancelled download) is no fault of
      // ours; the pipeline has stopped reading the report. Anything else is.
      if (!clientWentAway(res, err)) throw err;
    }
    return true;
  };
}
