/**
 * jobs/jobStore.ts against a real Postgres, without HTTP: the limit of active jobs per tenant
 * holds when uploads race on two instances of the service.
 */
import { describe, expect, it } from 'vitest';
import { claimJob, finishJob } from '../../src/jobs/leases.js';
import { countActiveJobs, createJobWithinLimit, type NewJob } from '../../src/jobs/jobStore.js';
import { requirePostgres } from '../support/database.js';
import { useCoreSchema } from '../support/coreSchema.js';
import { createTenant, LEASE_MS } from '../support/coreJobs.js';

const upload = (tenantId: string, i: number): NewJob => ({
  tenantId, kind: 'EVENTS', format: 'CSV', dryRun: false, fileSize: 10, fileSha256: `sha-${i}`,
  spoolPath: `/nonexistent/spool-${i}`, header: ['event_type'],
});

describe.runIf(requirePostgres('the core job store tests'))('the limit of active jobs per tenant', { timeout: 15_000 }, () => {
  const core = useCoreSchema();

  it('lets exactly the limit in when uploads race on two instances, and a finished job frees its place', async () => {
    const { db, connect } = core();
    const other = connect();
    const [tenant, neighbour] = [await createTenant(db), await createTenant(db)];
    const created = await Promise.all(Array.from({ length: 12 }, (_, i) => createJobWithinLimit(i % 2 ? other : db, upload(tenant, i), 2)));
    expect(created.filter(Boolean)).toHaveLength(2);
    expect(await countActiveJobs(db, tenant)).toBe(2);
    // Another tenant's limit is its own.
    expect(await createJobWithinLimit(db, upload(neighbour, 99), 2)).not.toBeNull();

    expect(await createJobWithinLimit(db, upload(tenant, 100), 2)).toBeNull();
    const fence = (await claimJob(db, 'runner', LEASE_MS))!;
    expect(await finishJob(db, fence, 'COMPLETED', null)).toBe(true);
    expect(await createJobWithinLimit(db, upload(tenant, 101), 2)).toMatchObject({ status: 'QUEUED', tenantId: tenant });
    expect(await countActiveJobs(db, tenant)).toBe(2);
  });
});
