/**
 * The claim order between tenants (jobs/claimOrder.ts) against a real Postgres: a tenant with no
 * job running goes first, then the tenant served least recently; a runner whose slice is up
 * claims only a waiting tenant's job; a job handed back goes to the end of that order; and
 * Job.queuePosition ranks the queue as the claims will take it.
 */
import { describe, expect, it } from 'vitest';
import { claimJob, requeueJob } from '../../src/jobs/leases.js';
import { queuePosition } from '../../src/jobs/queuePosition.js';
import { requirePostgres } from '../support/database.js';
import { useCoreSchema } from '../support/coreSchema.js';
import { createTenant, jobNow, LEASE_MS, queueJob } from '../support/coreJobs.js';

describe.runIf(requirePostgres('the core claim order tests'))('the claim order between tenants', { timeout: 15_000 }, () => {
  const core = useCoreSchema();

  it('gives the next runner a tenant with nothing running before a busy tenant\'s older job, and ranks the queue the same way', async () => {
    const { db } = core();
    const [a, b] = [await createTenant(db), await createTenant(db)];
    const a1 = await queueJob(db, a);
    const a2 = await queueJob(db, a);
    const b1 = await queueJob(db, b);
    expect([await queuePosition(db, a1.id), await queuePosition(db, a2.id), await queuePosition(db, b1.id)]).toEqual([1, 2, 3]);

    expect(await claimJob(db, 'r1', LEASE_MS)).toMatchObject({ jobId: a1.id });
    // a is running now: b's job, queued after a2, goes before it.
    expect([await queuePosition(db, b1.id), await queuePosition(db, a2.id), await queuePosition(db, a1.id)]).toEqual([1, 2, null]);
    expect(await claimJob(db, 'r2', LEASE_MS)).toMatchObject({ jobId: b1.id });
    expect(await queuePosition(db, a2.id)).toBe(1);
    expect(await claimJob(db, 'r3', LEASE_MS)).toMatchObject({ jobId: a2.id });
  });

  it('lets a runner whose slice is up claim only another tenant\'s job whose tenant has none running, then puts its own job back behind it', async () => {
    const { db } = core();
    const [a, b, c] = [await createTenant(db), await createTenant(db), await createTenant(db)];
    const a1 = await queueJob(db, a);
    const b1 = await queueJob(db, b);
    const fenceA = (await claimJob(db, 'r1', LEASE_MS))!;
    const fenceB = (await claimJob(db, 'r2', LEASE_MS))!;
    const a2 = await queueJob(db, a);
    // Only a's own second job waits: a's runner has nobody to make way for, nor has b's (a has a runner).
    expect(await claimJob(db, 'r1', LEASE_MS, { yieldingTenant: a })).toBeNull();
    expect(await claimJob(db, 'r2', LEASE_MS, { yieldingTenant: b })).toBeNull();

    const c1 = await queueJob(db, c);
    expect(await queuePosition(db, c1.id)).toBe(1);
    const forC = await claimJob(db, 'r1', LEASE_MS, { yieldingTenant: a });
    expect(forC).toMatchObject({ jobId: c1.id });
    // c is served now: b's runner, also past its slice, finds nobody left to make way for.
    expect(await claimJob(db, 'r2', LEASE_MS, { yieldingTenant: b })).toBeNull();

    expect(await requeueJob(db, fenceA)).toBe(true);
    expect(await jobNow(db, a1.id)).toMatchObject({ status: 'QUEUED', leaseOwner: null, leaseExpiresAt: null });
    expect(await requeueJob(db, fenceA)).toBe(false); // fenced: done once
    // Both of a's jobs wait, in their order; b keeps running.
    expect([await queuePosition(db, a1.id), await queuePosition(db, a2.id)]).toEqual([1, 2]);
    expect(await claimJob(db, 'r1', LEASE_MS)).toEqual({ jobId: a1.id, attempt: 2 });
    expect(await jobNow(db, b1.id)).toMatchObject({ status: 'RUNNING', attempt: fenceB.attempt });
  });

  it('prefers, of two waiting tenants, the one served least recently', async () => {
    const { db } = core();
    const [a, b] = [await createTenant(db), await createTenant(db)];
    const a1 = await queueJob(db, a);
    const b1 = await queueJob(db, b);
    const fenceA = (await claimJob(db, 'r1', LEASE_MS))!;
    const fenceB = (await claimJob(db, 'r2', LEASE_MS))!;
    // a made way first, so it has waited longer than b: it goes first.
    await requeueJob(db, fenceA);
    await new Promise((r) => setTimeout(r, 20));
    await requeueJob(db, fenceB);
    expect([await queuePosition(db, a1.id), await queuePosition(db, b1.id)]).toEqual([1, 2]);
    // Served later than b since: a claim marks a tenant served too.
    expect(await claimJob(db, 'r1', LEASE_MS)).toMatchObject({ jobId: a1.id });
    const again = (await jobNow(db, a1.id));
    await requeueJob(db, { jobId: a1.id, attempt: again.attempt });
    expect([await queuePosition(db, b1.id), await queuePosition(db, a1.id)]).toEqual([1, 2]);
  });
});
