/** The shape of a revert's batches, shared by its runner (revertJob.ts) and the ways it undoes rows. */
import type { Transaction } from '../db/database.js';
import type { Job } from '../jobs/jobStore.js';
import type { RowError } from '../kinds/types.js';

/** What one batch of a revert did, and where the next one starts; null when nothing is left. */
export interface UndoneBatch {
  cursor: number;
  processed: number;
  undone: number;
  restored: number;
  unchanged: number;
  errors: (RowError & { rawRow: string })[];
}

/** Undoes the rows after `cursor` (0: from the start), up to a batch of them, in the revert's transaction. */
export type UndoStep = (tx: Transaction, cursor: number) => Promise<UndoneBatch | null>;

export interface RevertContext { revert: Job; original: Job; batchSize: number }

