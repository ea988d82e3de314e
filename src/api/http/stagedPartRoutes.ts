/**
 * PUT /staged/<upload id>/parts/<n>?expires=..&sig=..: a part of a staged upload on the folder
 * spool (with an S3 spool the parts go to the store). The URL is its own authority, like an S3
 * presigned URL (intake/stagedUploads/partSignature.ts): no API key; a tampered, expired or
 * unknown one is a 403. The limits hold before a byte is stored: the body must announce exactly
 * the part's length (Content-Length; no chunked bodies), and the write stops at that length. A
 * part counts as received only once its last byte is written, so a cut connection leaves it
 * missing, and sending it again replaces it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../ops/metrics.js';
import { partCount, partLength } from '../../intake/stagedUploads/partPlan.js';
import { parsePartPath, partQueryValid } from '../../intake/stagedUploads/partSignature.js';
import { getOpenStagedUpload, markPartReceived, unmarkPart } from '../../intake/stagedUploads/stagedUploadRows.js';
import { PartSizeError, writeFolderPart } from '../../intake/stagedUploads/folderStaging.js';
import { closeIfBodyPauses } from './answeredBodies.js';
import { ServerDiskError } from '../../spool/diskFailure.js';
import { requestPath } from './requestTarget.js';

interface PartRouteDeps { db: Database; log: Logger; metrics: Metrics; uploadIdleTimeoutMs: number }

/** Whether the request is for a part URL (the route answers Expect: 100-continue itself). */
export function isPartRequest(req: IncomingMessage): boolean {
  try {
    return parsePartPath(requestPath(req)) !== null;
  } catch {
    return false; // a malformed target: the router answers it with 400
  }
}

function answer(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(`${message}\n`);
}

export function stagedPartRoutes(deps: PartRouteDeps) {
  const count = (outcome: string) => deps.metrics.stagedPartPuts.inc({ outcome });
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const target = parsePartPath(requestPath(req));
    if (!target) return false;
    if (req.method !== 'PUT') {
      answer(res, 405, 'A part is sent with PUT', { allow: 'PUT' });
      return true;
    }
    const upload = await getOpenStagedUpload(deps.db, target.uploadId);
    const query = new URL(req.url ?? '/', 'http://part').searchParams;
    if (!upload || upload.s3UploadId || !partQueryValid(upload.signingKey, upload.id, target.part, query)) {
      count('refused');
      answer(res, 403, 'This part URL is not valid (altered, expired, or its upload was imported or removed): ask stagedUpload for fresh URLs');
      return true;
    }
    if (target.part > partCount(upload.fileSize, upload.partSize)) {
      count('refused');
      answer(res, 400, `This upload has ${partCount(upload.fileSize, upload.partSize)} parts`);
      return true;
    }
    const expected = partLength(upload.fileSize, upload.partSize, target.part);
    if (req.headers['content-length'] === undefined) {
      count('refused');
      answer(res, 411, `Send Content-Length: ${expected} (part ${target.part}'s exact length)`);
      return true;
    }
    const announced = Number(req.headers['content-length']);
    if (announced !== expected) {
      count('refused');
      answer(res, 400, `Part ${target.part} is ${expected} bytes; the request announced ${req.headers['content-length']}`);
      return true;
    }
    if (!(await unmarkPart(deps.db, upload.id, target.part))) {
      count('refused');
      answer(res, 403, 'This part URL is not valid (altered, expired, or its upload was imported or removed): ask stagedUpload for fresh URLs');
      return true;
    }
    // app.ts leaves `100 Continue` to this route: the part is accepted, the client may send it.
    if (/^100-continue$/i.test(String(req.headers.expect ?? '').trim())) res.writeContinue();
    const written = writeFolderPart(upload, target.part, req);
    closeIfBodyPauses(req, res, deps.uploadIdleTimeoutMs, written);
    try {
      await written;
    } catch (err) {
      if (err instanceof PartSizeError) {
        count('refused');
        answer(res, 400, err.message);
        return true;
      }
      // The server's disk, not the part: it stays missing, to be sent again later (clients retry a 503).
      if (err instanceof ServerDiskError) {
        count('disk_failed');
        deps.log.error({ err: err.cause, file: err.file, upload: upload.id, part: target.part }, err.full ? 'the disk is full: a staged part was refused' : 'the disk failed under a staged part');
        answer(res, 503, err.message, { 'retry-after': '60' });
        req.resume(); // the rest of the part is not wanted (cutOffBodyAfterAnswer bounds how long it may come)
        return true;
      }
      // The client went away mid-part (or its connection was cut for pausing): the part stays missing.
      if (req.destroyed || !req.complete) {
        count('broken');
        deps.log.debug({ upload: upload.id, part: target.part }, 'staged part broken off');
        return true;
      }
      throw err;
    }
    await markPartReceived(deps.db, upload.id, target.part);
    count('received');
    res.writeHead(200, { etag: `"${upload.id}-${target.part}"` }).end();
    return true;
  };
}
