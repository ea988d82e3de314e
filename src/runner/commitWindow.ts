/**
 * The batch commits a job has under way, oldest first. Against a real Postgres a batch starts
 * committing while the ones before finish (commitBatch's `after`): several backends COPY at once,
 * and one batch's COMMIT (its WAL flush) no longer stalls the next. PGlite has one connection, and
 * a second transaction would wait for the first forever, so there the window holds one.
 */
import type { ParsedBatch } from '../parse/parsedBatches.js';
import type { BatchResult } from './commitBatch.js';

/** A batch whose transaction is under way. */
interface PendingCommit {
  batch: ParsedBatch;
  result: Promise<BatchResult>;
  startedAt: number;
  /** Its transaction is over (committed or failed); it may still wait for the loop to read it. */
  settled: boolean;
}

export class CommitWindow {
  private readonly pending: PendingCommit[] = [];

  constructor(private readonly depth: number) {}

  get size(): number { return this.pending.length; }
  get full(): boolean { return this.pending.length >= this.depth; }

  /** The newest commit's result, for the next batch to wait on. */
  newest(): Promise<BatchResult> | undefined { return this.pending.at(-1)?.result; }

  /** When the oldest commit still under way started, or null when none is. */
  oldestUnsettledSince(): number | null {
    return this.pending.find((c) => !c.settled)?.startedAt ?? null;
  }

  add(batch: ParsedBatch, result: Promise<BatchResult>): void {
    result.catch(() => {}); // awaited in order by takeOldest
    const commit: PendingCommit = { batch, result, startedAt: Date.now(), settled: false };
    result.finally(() => { commit.settled = true; }).catch(() => {});
    this.pending.push(commit);
  }

  /** Waits for the oldest commit and takes it out; its batch's memory goes back to the parse thread. */
  async takeOldest(): Promise<BatchResult> {
    const commit = this.pending[0];
    const result = await commit.result;
    this.pending.shift();
    commit.batch.release();
    return result;
  }

  /** Every commit under way has ended, however it ended. */
  async allSettled(): Promise<void> {
    await Promise.allSettled(this.pending.map((c) => c.result));
  }
}
