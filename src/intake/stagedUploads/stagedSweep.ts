/**
 * The staged uploads' part of the spool's housekeeping (run before the spool sweep): an expired
 * upload that was never imported has what it received removed (its file, or its S3 multipart
 * upload); an imported one's file is its job's, which the spool sweep looks after. Live uploads'
 * files are what the spool sweep must leave be, however long they wait between parts.
 */
import type { SqlExecutor } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { SpoolKeep } from '../../spool/spool.js';
import type { StagedStorage } from './stagedStorage.js';
import { deleteStagedUpload, listExpiredStagedUploads, liveStagedLocations } from './stagedUploadRows.js';

const SWEEP_BATCH = 100;

export async function sweepStagedUploads(db: SqlExecutor, staged: StagedStorage, log: Logger): Promise<{ removed: number; keep: SpoolKeep }> {
  let removed = 0;
  for (;;) {
    const expired = await listExpiredStagedUploads(db, SWEEP_BATCH);
    for (const upload of expired) {
      if (!upload.jobId) await staged.discard(upload);
      await deleteStagedUpload(db, upload.id);
      removed++;
    }
    if (expired.length < SWEEP_BATCH) break;
  }
  if (removed) log.info({ removed }, 'removed expired staged uploads');
  return { removed, keep: await liveStagedLocations(db) };
}
