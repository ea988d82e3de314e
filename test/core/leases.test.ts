/**
 * jobs/leases.ts against a real Postgres, without HTTP: which job a runner claims, how a lease is
 * kept and lost, and that a runner which lost its lease writes nothing (fencing by id and attempt).
 */
import { describe, expect, it } from 'vitest';
import { claimJob, finishJob, LeaseLostError, lockForBatch, releaseLease, renewLease } from '../../src/jobs/leases.js';
import { commitBatch } from '../../src/runner/commitBatch.js';
import { requestCancel } from '../../src/jobs/jobStore.js';
import { requirePostgres } from '../support/database.js';
import { useCoreSchema, type CoreSchema } from '../support/coreSchema.js';
import { createTenant, eventBatches, eventsTarget, importedState, jobNow, LEASE_MS, queueJob } from '../support/coreJobs.js';
import { manyEvents } from '../support/events.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** As if the lease's time had passed: without waiting for it, and without a race against a slow machine. */
async function expireLease({ admin }: CoreSchema, jobId: string): Promise<void> {
  await admin`update import_jobs set lease_expires_at = now() - interval '1 second' where id = ${jobId}`;
}

describe.runIf(requirePostgres('the core lease tests'))('claiming', { timeout: 15_000 }, () => {
  const core = useCoreSchema();

  it('takes the oldest queued job first, and none when none is left', async () => {
    const { db } = core();
    const tenant = await createTenant(db);
    const jobs = [await queueJob(db, tenant), await queueJob(db, tenant), await queueJob(db, tenant)];
    const claimed = [await claimJob(db, 'a', LEASE_MS), await claimJob(db, 'a', LEASE_MS), await claimJob(db, 'a', LEASE_MS)];
    expect(claimed).toEqual(jobs.map((j) => ({ jobId: j.id, attempt: 1 })));
    expect(await claimJob(db, 'a', LEASE_MS)).toBeNull();
    const first = await jobNow(db, jobs[0].id);
    expect(first).toMatchObject({ status: 'RUNNING', leaseOwner: 'a', attempt: 1 });
    expect(first.startedAt).not.toBeNull();
  });

  it('does not take a running job whose lease is live, but takes it over once the lease has expired, bumping its attempt', async () => {
    const { db } = core();
    const job = await queueJob(db, await createTenant(db));
    const claimedAt = Date.now();
    expect(await claimJob(db, 'a', LEASE_MS)).toEqual({ jobId: job.id, attempt: 1 });
    const lease = (await jobNow(db, job.id)).leaseExpiresAt!.getTime() - claimedAt;
    expect(lease).toBeGreaterThan(LEASE_MS - 5_000);
    expect(lease).toBeLessThan(LEASE_MS + 5_000);
    expect(await claimJob(db, 'b', LEASE_MS)).toBeNull();

    await expireLease(core(), job.id); // runner a stalled, or died
    expect(await claimJob(db, 'b', LEASE_MS)).toEqual({ jobId: job.id, attempt: 2 });
    expect(await jobNow(db, job.id)).toMatchObject({ status: 'RUNNING', leaseOwner: 'b', attempt: 2 });
  });

  it('gives each job to exactly one of two instances claiming at the same time', async () => {
    const { db, connect } = core();
    const other = connect();
    const tenant = await createTenant(db);
    const jobs = [];
    for (let i = 0; i < 30; i++) jobs.push(await queueJob(db, tenant));
    // Ten claimers on each instance's pool, each claiming until nothing is left.
    const claimer = async (instance: typeof db, owner: string) => {
      const got: string[] = [];
      for (let fence = await claimJob(instance, owner, LEASE_MS); fence; fence = await claimJob(instance, owner, LEASE_MS)) got.push(fence.jobId);
      return got;
    };
    const claims = await Promise.all(Array.from({ length: 20 }, (_, i) => claimer(i % 2 ? other : db, `runner-${i}`)));
    const all = claims.flat();
    expect(all.length).toBe(jobs.length);
    expect(new Set(all)).toEqual(new Set(jobs.map((j) => j.id)));
    const [{ bumped }] = await db.query<{ bumped: number }>('select count(*)::int as bumped from import_jobs where attempt <> 1');
    expect(bumped).toBe(0);
  });

  it('hands a released job back at once: still RUNNING, claimable by the next runner', async () => {
    const { db } = core();
    const job = await queueJob(db, await createTenant(db));
    const fence = (await claimJob(db, 'a', LEASE_MS))!;
    await releaseLease(db, fence);
    expect(await jobNow(db, job.id)).toMatchObject({ status: 'RUNNING', leaseOwner: null });
    expect(await claimJob(db, 'b', LEASE_MS)).toEqual({ jobId: job.id, attempt: 2 });
  });
});

describe.runIf(requirePostgres('the core lease tests'))('a lease', { timeout: 15_000 }, () => {
  const core = useCoreSchema();

  it('is renewed while held, pushing its expiry out, and can no longer be once another runner has taken the job', async () => {
    const { db } = core();
    const job = await queueJob(db, await createTenant(db));
    const fence = (await claimJob(db, 'a', 300))!;
    const before = (await jobNow(db, job.id)).leaseExpiresAt!.getTime();
    expect(await renewLease(db, fence, LEASE_MS)).toBe(true);
    expect((await jobNow(db, job.id)).leaseExpiresAt!.getTime()).toBeGreaterThan(before + 10_000);

    await expireLease(core(), job.id); // runner a stalled past its lease
    expect(await claimJob(db, 'b', LEASE_MS)).toEqual({ jobId: job.id, attempt: 2 });
    expect(await renewLease(db, fence, LEASE_MS)).toBe(false);
    expect(await jobNow(db, job.id)).toMatchObject({ leaseOwner: 'b', attempt: 2 });
  });

  it('once lost, fences off every write of its runner: lock, commit, finish, release, renew', async () => {
    const { db } = core();
    const job = await queueJob(db, await createTenant(db));
    const stale = (await claimJob(db, 'a', 1))!;
    await sleep(20);
    const owner = (await claimJob(db, 'b', LEASE_MS))!;
    const held = await jobNow(db, job.id);
    const [batch] = eventBatches(job, [manyEvents(3)]);

    await expect(db.transaction((tx) => lockForBatch(tx, stale))).rejects.toBeInstanceOf(LeaseLostError);
    await expect(commitBatch(db, stale, batch, eventsTarget())).rejects.toBeInstanceOf(LeaseLostError);
    await expect(commitBatch(db, stale, batch, eventsTarget(), Promise.resolve())).rejects.toBeInstanceOf(LeaseLostError);
    expect(await finishJob(db, stale, 'FAILED', 'a stale runner gave up')).toBe(false);
    await releaseLease(db, stale);
    expect(await renewLease(db, stale, LEASE_MS)).toBe(false);

    expect(await jobNow(db, job.id)).toEqual(held);
    expect(await importedState(db, job.id)).toMatchObject({ rows: 0, errors: 0, rowsProcessed: 0, checkpointOffset: 0 });
    // The owner goes on undisturbed.
    expect(await commitBatch(db, owner, batch, eventsTarget())).toMatchObject({ outcome: 'committed', rowsWritten: 3 });
    expect(await finishJob(db, owner, 'COMPLETED', null)).toBe(true);
    expect(await importedState(db, job.id)).toMatchObject({ rows: 3, status: 'COMPLETED', rowsImported: 3 });
  });

  it('ends with its job: a finished or cancelled job takes no more writes', async () => {
    const { db } = core();
    const tenant = await createTenant(db);
    const job = await queueJob(db, tenant);
    const fence = (await claimJob(db, 'a', LEASE_MS))!;
    const [first, second] = eventBatches(job, [manyEvents(2), manyEvents(2, 2)]);
    await commitBatch(db, fence, first, eventsTarget());
    expect(await finishJob(db, fence, 'COMPLETED', null)).toBe(true);
    const done = await jobNow(db, job.id);
    expect(done).toMatchObject({ status: 'COMPLETED', rowsTotal: 2, leaseOwner: null, leaseExpiresAt: null });
    expect(await finishJob(db, fence, 'FAILED', 'too late')).toBe(false);
    expect(await renewLease(db, fence, LEASE_MS)).toBe(false);
    await expect(commitBatch(db, fence, second, eventsTarget())).rejects.toBeInstanceOf(LeaseLostError);
    expect(await requestCancel(db, tenant, job.id)).toMatchObject({ status: 'COMPLETED' });
    expect(await jobNow(db, job.id)).toEqual(done);
    expect(await claimJob(db, 'b', LEASE_MS)).toBeNull();
  });
});
