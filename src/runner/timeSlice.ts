/**
 * A running job's time slice (JOB_SLICE_MS): once it is used up, the runner asks at a batch
 * boundary whether another tenant waits, and if one does, hands the job over (jobRunner.ts).
 *
 * Asking is a query, so it is not done at every batch: only after the slice, and then when the
 * queue has changed (a `job_queued` notice, counted by the pool) or a slice has passed since the
 * last time it asked (a notice missed during a database outage). A job nobody waits for runs on
 * with no query added to its batches.
 */
export class TimeSlice {
  private readonly startedAt = Date.now();
  private askedAt = 0;
  private queueSeen: number;

  /** `queueChanges`: a counter that moves at every job_queued notice. */
  constructor(private readonly sliceMs: number, private readonly queueChanges: () => number) {
    this.queueSeen = queueChanges();
  }

  /** Whether to ask now; when true, counts as asked. */
  shouldAsk(): boolean {
    const now = Date.now();
    if (this.sliceMs <= 0 || now - this.startedAt < this.sliceMs) return false;
    const changes = this.queueChanges();
    if (changes === this.queueSeen && now - this.askedAt < this.sliceMs) return false;
    this.queueSeen = changes;
    this.askedAt = now;
    return true;
  }
}
