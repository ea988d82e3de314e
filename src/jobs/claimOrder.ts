/**
 * The order in which queued jobs get a runner, and tenant_service, the table it reads: first the
 * jobs of tenants with no job running, then the tenant served least recently (never served
 * first), then the oldest job. One definition serves the claim (leases.ts) and
 * Job.queuePosition (queuePosition.ts), so a position always says what the claims will do.
 *
 * The order is by tenant, not by job, so that a tenant with many or long jobs cannot keep
 * another tenant's small one waiting: with time slices (runner/timeSlice.ts) a long job goes
 * back to the queue, and the tenant that waited comes first.
 */

/** ORDER BY terms over import_jobs aliased `j`. */
export const CLAIM_ORDER = `
  exists (select 1 from import_jobs r where r.tenant_id = j.tenant_id and r.status = 'RUNNING'
          and r.id <> j.id and r.lease_expires_at >= now()),
  (select s.served_at from tenant_service s where s.tenant_id = j.tenant_id) asc nulls first,
  j.seq`;

/** A WHERE term over `j`: its tenant has no job running (a tenant waiting for its turn). */
export const TENANT_NOT_RUNNING = `
  not exists (select 1 from import_jobs r where r.tenant_id = j.tenant_id and r.status = 'RUNNING'
              and r.id <> j.id and r.lease_expires_at >= now())`;

/**
 * A CTE step that records that the tenants in `source` (a CTE returning tenant_id) were served
 * now: written with the claim or the hand-back, in the same statement.
 */
export const markServed = (source: string) => `
  served as (
    insert into tenant_service (tenant_id, served_at) select tenant_id, now() from ${source}
    on conflict (tenant_id) do update set served_at = excluded.served_at)`;
