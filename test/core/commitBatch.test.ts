/**
 * runner/commitBatch.ts against a real Postgres, without HTTP: one transaction per batch, in which
 * the rows, the row errors, the counters and the checkpoint land together or not at all. Batches
 * are cut from small CSV files by the real row pipeline (test/support/coreJobs.ts).
 */
import { describe, expect, it } from 'vitest';
import { claimJob, LeaseLostError, type Fence } from '../../src/jobs/leases.js';
import { requestCancel, type Job } from '../../src/jobs/jobStore.js';
import { commitBatch, type BatchToCommit } from '../../src/runner/commitBatch.js';
import { requirePostgres } from '../support/database.js';
import { useCoreSchema, type CoreSchema } from '../support/coreSchema.js';
import { createTenant, eventBatches, eventsTarget, importedState, jobNow, LEASE_MS, queueJob } from '../support/coreJobs.js';
import { eventRow, manyEvents } from '../support/events.js';

const bad = (i: number) => eventRow(i, { event_type: 'bogus' });

describe.runIf(requirePostgres('the core commitBatch tests'))('a batch commit', { timeout: 15_000 }, () => {
  const core = useCoreSchema();

  async function runningJob(opts: { maxErrors?: number } = {}): Promise<{ job: Job; fence: Fence }> {
    const { db } = core();
    const job = await queueJob(db, await createTenant(db), opts);
    const fence = await claimJob(db, 'runner', LEASE_MS);
    if (fence?.jobId !== job.id) throw new Error('the job was not claimed');
    return { job, fence };
  }

  it('writes the rows, the row errors, the counters and the checkpoint together, batch after batch', async () => {
    const { db } = core();
    const { job, fence } = await runningJob();
    const [first, second] = eventBatches(job, [
      [eventRow(0), eventRow(1, { event_id: 'e-1' }), eventRow(2), bad(3)],
      [eventRow(4, { event_id: 'e-1' }), eventRow(5, { event_id: 'e-1' }), eventRow(6)],
    ]);

    expect(await commitBatch(db, fence, first, eventsTarget())).toEqual({ outcome: 'committed', rowsWritten: 3, rowsFailed: 1 });
    expect(await importedState(db, job.id)).toMatchObject({
      rows: 3, errors: 1, status: 'RUNNING', rowsProcessed: 4, rowsImported: 3, rowsFailed: 1, rowsDuplicate: 0,
      checkpointOffset: first.endOffset, checkpointLine: 5,
    });
    const [error] = await db.query('select line, "column", value, message from job_errors where job_id = $1', [job.id]);
    expect(error).toMatchObject({ line: 5, column: 'event_type', value: 'bogus' });

    // e-1 is in already: both of the second batch's rows with it are duplicates.
    expect(await commitBatch(db, fence, second, eventsTarget())).toEqual({ outcome: 'committed', rowsWritten: 1, rowsFailed: 0 });
    expect(await importedState(db, job.id)).toMatchObject({
      rows: 4, errors: 1, rowsProcessed: 7, rowsImported: 4, rowsFailed: 1, rowsDuplicate: 2,
      checkpointOffset: second.endOffset, checkpointLine: 8,
    });
    const lines = await db.query<{ line: number }>('select line from events where job_id = $1 order by line', [job.id]);
    expect(lines.map((r) => r.line)).toEqual([2, 3, 4, 8]);
  });

  const failures: [string, RegExp, (core: CoreSchema, batch: BatchToCommit) => Promise<BatchToCommit>][] = [
    ['at the checkpoint, after its rows and errors', /forced failure at the checkpoint/, async ({ admin }, batch) => {
      await admin.unsafe(`
        create function fail_at_checkpoint() returns trigger language plpgsql as $$
          begin raise exception 'forced failure at the checkpoint'; end $$;
        create trigger fail_at_checkpoint before update of checkpoint_offset on import_jobs
          for each row execute function fail_at_checkpoint()`);
      return batch;
    }],
    // Postgres refuses the COPY's data part-way: the rows before the bad one were sent already.
    ['in the COPY of its rows', /invalid input syntax for type timestamp/, async (_, batch) => (
      { ...batch, copyData: Buffer.from(batch.copyData.toString().replace(/2024-04-13 14:36:15.453788(?![\s\S]*2024-04-13)/, 'not a time')) }
    )],
  ];

  it.each(failures)('that fails %s leaves rows, errors and checkpoint as they were, and no session idle in a transaction', async (_, expected, fail) => {
    const { db, admin, applicationName } = core();
    const { job, fence } = await runningJob();
    const [batch] = eventBatches(job, [[...manyEvents(5), bad(5), eventRow(6, { event_id: 'e-6' })]]);
    const before = await importedState(db, job.id);

    await expect(commitBatch(db, fence, await fail(core(), batch), eventsTarget())).rejects.toThrow(expected);
    expect(await importedState(db, job.id)).toEqual(before);
    const [{ stuck }] = await admin<{ stuck: number }[]>`
      select count(*)::int as stuck from pg_stat_activity where application_name = ${applicationName} and state like 'idle in transaction%'`;
    expect(stuck).toBe(0);

    // Nothing half-written stands in the way of the batch once the failure is gone.
    await admin.unsafe('drop trigger if exists fail_at_checkpoint on import_jobs');
    expect(await commitBatch(db, fence, batch, eventsTarget())).toEqual({ outcome: 'committed', rowsWritten: 6, rowsFailed: 1 });
    expect(await importedState(db, job.id)).toMatchObject({ rows: 6, errors: 1, rowsProcessed: 7, checkpointOffset: batch.endOffset });
  });

  it('committed already (its COMMIT landed, the answer was lost) is not written twice', async () => {
    const { db } = core();
    const { job, fence } = await runningJob();
    const [batch] = eventBatches(job, [[eventRow(0), eventRow(1, { event_id: 'e-1' }), bad(2)]]);
    await commitBatch(db, fence, batch, eventsTarget());
    const once = await importedState(db, job.id);
    expect(once).toMatchObject({ rows: 2, errors: 1, rowsProcessed: 3 });

    expect(await commitBatch(db, fence, batch, eventsTarget())).toEqual({ outcome: 'already-committed', rowsWritten: 0, rowsFailed: 0 });
    expect(await importedState(db, job.id)).toEqual(once);
  });

  it('that does not start at the checkpoint throws, and writes nothing', async () => {
    const { db } = core();
    const { job, fence } = await runningJob();
    const [first, second, third] = eventBatches(job, [manyEvents(2), manyEvents(2, 2), manyEvents(2, 4)]);
    await expect(commitBatch(db, fence, second, eventsTarget())).rejects.toThrow(`batch starts at byte ${second.startOffset} but the job's checkpoint is at 0`);
    expect(await importedState(db, job.id)).toMatchObject({ rows: 0, rowsProcessed: 0, checkpointOffset: 0 });

    await commitBatch(db, fence, first, eventsTarget());
    await commitBatch(db, fence, second, eventsTarget());
    const twoBatches = await importedState(db, job.id);
    await expect(commitBatch(db, fence, first, eventsTarget())).rejects.toThrow(/batch starts at byte 0/);
    expect(await importedState(db, job.id)).toEqual(twoBatches);
    expect(await commitBatch(db, fence, third, eventsTarget())).toMatchObject({ outcome: 'committed' });
  });

  it('after a cancel request writes nothing and ends the job CANCELLED; the batches before it stay', async () => {
    const { db } = core();
    const { job, fence } = await runningJob();
    const [first, second] = eventBatches(job, [manyEvents(3), manyEvents(3, 3)]);
    await commitBatch(db, fence, first, eventsTarget());
    expect(await requestCancel(db, job.tenantId, job.id)).toMatchObject({ status: 'RUNNING', cancelRequested: true });

    expect(await commitBatch(db, fence, second, eventsTarget())).toEqual({ outcome: 'cancelled', rowsWritten: 0, rowsFailed: 0 });
    expect(await importedState(db, job.id)).toMatchObject({ rows: 3, status: 'CANCELLED', rowsProcessed: 3, checkpointOffset: first.endOffset });
    expect((await jobNow(db, job.id)).finishedAt).not.toBeNull();
  });

  it('that takes the failed rows past maxErrors ends the job FAILED, and the job takes no further batch', async () => {
    const { db } = core();
    const { job, fence } = await runningJob({ maxErrors: 1 });
    const [first, second, third] = eventBatches(job, [[eventRow(0), bad(1)], [eventRow(2), bad(3)], manyEvents(2, 4)]);
    expect(await commitBatch(db, fence, first, eventsTarget())).toMatchObject({ outcome: 'committed' });
    expect(await commitBatch(db, fence, second, eventsTarget())).toEqual({ outcome: 'too-many-errors', rowsWritten: 1, rowsFailed: 1 });
    expect(await importedState(db, job.id)).toMatchObject({ status: 'FAILED', rows: 2, errors: 2, rowsFailed: 2, checkpointOffset: second.endOffset });
    expect((await jobNow(db, job.id)).failureReason).toBe('2 rows failed, more than maxErrors (1)');

    await expect(commitBatch(db, fence, third, eventsTarget())).rejects.toBeInstanceOf(LeaseLostError);
    expect(await importedState(db, job.id)).toMatchObject({ status: 'FAILED', rows: 2 });
  });
});

/** A promise the test settles itself: the commit of "the batch before". */
function deferred() {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

describe.runIf(requirePostgres('the core commitBatch tests'))('a pipelined batch commit (after the batch before)', { timeout: 15_000 }, () => {
  const core = useCoreSchema();

  async function runningJob(): Promise<{ job: Job; fence: Fence }> {
    const { db } = core();
    const job = await queueJob(db, await createTenant(db));
    return { job, fence: (await claimJob(db, 'runner', LEASE_MS))! };
  }

  /** Resolves once this test's pool has COPYed a batch's rows ahead and waits inside the transaction. */
  async function copiedAhead(): Promise<void> {
    const { admin, applicationName } = core();
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      const [{ n }] = await admin<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
        where application_name = ${applicationName} and state = 'idle in transaction' and query like 'COPY "events"%'`;
      if (n > 0) return;
    }
    throw new Error('no batch was COPYed ahead');
  }

  it('lands after the batch before, in file order, while that one is still committing', async () => {
    const { db } = core();
    const { job, fence } = await runningJob();
    const [first, second] = eventBatches(job, [manyEvents(3), [...manyEvents(2, 3), eventRow(5, { event_id: 'e-5' })]]);
    const before = commitBatch(db, fence, first, eventsTarget());
    const results = await Promise.all([before, commitBatch(db, fence, second, eventsTarget(), before)]);
    expect(results.map((r) => r.outcome)).toEqual(['committed', 'committed']);
    expect(await importedState(db, job.id)).toMatchObject({ rows: 6, rowsProcessed: 6, checkpointOffset: second.endOffset, checkpointLine: 7 });
  });

  it('rolls back the rows it COPYed ahead when the batch before fails', async () => {
    const { db } = core();
    const { job, fence } = await runningJob();
    const [, second] = eventBatches(job, [manyEvents(3), manyEvents(3, 3)]);
    const before = deferred();
    const commit = commitBatch(db, fence, second, eventsTarget(), before.promise);
    await copiedAhead();
    before.reject(new Error('the batch before this one failed'));
    await expect(commit).rejects.toThrow('the batch before this one failed');
    expect(await importedState(db, job.id)).toMatchObject({ rows: 0, rowsProcessed: 0, checkpointOffset: 0, status: 'RUNNING' });
  });

  it('rolls back the rows it COPYed ahead when the job was cancelled meanwhile, and ends the job CANCELLED', async () => {
    const { db } = core();
    const { job, fence } = await runningJob();
    const [first, second] = eventBatches(job, [manyEvents(3), manyEvents(3, 3)]);
    await commitBatch(db, fence, first, eventsTarget());
    const before = deferred();
    const commit = commitBatch(db, fence, second, eventsTarget(), before.promise);
    await copiedAhead();
    await requestCancel(db, job.tenantId, job.id);
    before.resolve();
    expect(await commit).toEqual({ outcome: 'cancelled', rowsWritten: 0, rowsFailed: 0 });
    expect(await importedState(db, job.id)).toMatchObject({ rows: 3, status: 'CANCELLED', rowsProcessed: 3, checkpointOffset: first.endOffset });
  });

  it('rolls back the rows it COPYed ahead when an earlier attempt had committed the batch', async () => {
    const { db } = core();
    const { job, fence } = await runningJob();
    const [batch] = eventBatches(job, [manyEvents(3)]);
    await commitBatch(db, fence, batch, eventsTarget());
    const once = await importedState(db, job.id);
    const before = deferred();
    const commit = commitBatch(db, fence, batch, eventsTarget(), before.promise);
    await copiedAhead();
    before.resolve();
    expect(await commit).toEqual({ outcome: 'already-committed', rowsWritten: 0, rowsFailed: 0 });
    expect(await importedState(db, job.id)).toEqual(once);
  });
});
