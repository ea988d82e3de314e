/**
 * Every read and write of webhook_messages and webhook_attempts: turning job ends into messages,
 * claiming due ones (any instance; FOR UPDATE SKIP LOCKED), writing each attempt's outcome, and
 * reading a webhook's delivery log.
 */
import type { Database, SqlExecutor } from '../db/database.js';
import { takeJobEndings } from '../jobs/jobEndings.js';
import { eventOfStatus, jobEventBody, type WebhookEvent } from './jobEvent.js';

/**
 * Moves up to `limit` job ends from the jobs' outbox into one message per webhook of the job's
 * tenant that listens for the event, in one transaction: an end becomes its messages once.
 */
export async function fanOutJobEndings(db: Database, limit: number): Promise<number> {
  return db.transaction(async (tx) => {
    const endings = await takeJobEndings(tx, limit);
    for (const { status, job } of endings) {
      const event = eventOfStatus(status);
      if (!event) continue;
      await tx.query(
        `insert into webhook_messages (webhook_id, job_id, event, body)
         select id, $2, $3, $4 from webhooks where tenant_id = $1 and $3 = any(events)`,
        [job.tenantId, job.id, event, jobEventBody(event, job)],
      );
    }
    return endings.length;
  });
}

/** A message claimed for one attempt, with where it goes and its sealed secret. */
export interface ClaimedMessage {
  id: string; webhookId: string; event: WebhookEvent; body: string; attempt: number; url: string; secretCiphertext: string;
}

/**
 * Attempts one tenant's messages may have in flight at once, over all instances (two claiming at the
 * same moment may each give it this many): a tenant whose
 * receivers never answer holds this many of the dispatchers' slots until their timeout, not all of
 * them, so other tenants' deliveries go on.
 */
export const MAX_IN_FLIGHT_PER_TENANT = 2;

/**
 * Claims up to `limit` due messages for one attempt each. The claim moves the message's next
 * attempt `holdMs` ahead: if this instance dies mid-attempt, the message falls due again then.
 * Tenants take turns: each tenant's due messages are ranked oldest first, a tenant with messages in
 * flight (claimed, their hold not run out) gets that many fewer, and the first of every tenant go
 * before the second of any.
 */
export async function claimDueMessages(db: SqlExecutor, owner: string, holdMs: number, limit: number): Promise<ClaimedMessage[]> {
  const rows = await db.query<{ id: string; webhook_id: string; event: WebhookEvent; body: string; attempts: number; url: string; secret_ciphertext: string }>(
    `with in_flight as (
       select w.tenant_id, count(*)::int as n from webhook_messages m join webhooks w on w.id = m.webhook_id
       where m.status = 'PENDING' and m.lease_owner is not null and m.next_attempt_at > now()
       group by w.tenant_id),
     ranked as (
       select m.id, m.next_attempt_at, coalesce(f.n, 0)
           + row_number() over (partition by w.tenant_id order by m.next_attempt_at, m.id) as turn
       from webhook_messages m join webhooks w on w.id = m.webhook_id left join in_flight f on f.tenant_id = w.tenant_id
       where m.status = 'PENDING' and m.next_attempt_at <= now())
     update webhook_messages m set attempts = m.attempts + 1, lease_owner = $1,
       next_attempt_at = now() + $2 * interval '1 millisecond'
     from webhooks w
     where w.id = m.webhook_id and m.id in (
       select id from webhook_messages where status = 'PENDING' and next_attempt_at <= now() and id in (
         select id from ranked where turn <= $4 order by turn, next_attempt_at limit $3)
       for update skip locked)
     returning m.id, m.webhook_id, m.event, m.body, m.attempts, w.url, w.secret_ciphertext`,
    [owner, holdMs, limit, MAX_IN_FLIGHT_PER_TENANT],
  );
  return rows.map((r) => ({ id: r.id, webhookId: r.webhook_id, event: r.event, body: r.body, attempt: r.attempts, url: r.url, secretCiphertext: r.secret_ciphertext }));
}

/** What one attempt came to. */
export interface AttemptResult {
  succeeded: boolean; responseStatus: number | null; responseBody: string | null; error: string | null;
  attemptedAt: Date; durationMs: number;
}

/**
 * Writes an attempt to the log and the message's state after it: DELIVERED, due again after
 * `retryInMs`, or FAILED (given up) when `retryInMs` is null. Fenced by the attempt number: if
 * the message was claimed again meanwhile (this attempt outlived its hold), the newer claim
 * decides the state, and only the log keeps this attempt.
 */
export async function recordAttempt(db: Database, message: ClaimedMessage, result: AttemptResult, retryInMs: number | null): Promise<void> {
  await db.transaction(async (tx) => {
    const status = result.succeeded ? 'DELIVERED' : retryInMs === null ? 'FAILED' : 'PENDING';
    const [state] = await tx.query<{ next_ms: number | null }>(
      `update webhook_messages set status = $3, lease_owner = null,
         next_attempt_at = case when $3 = 'PENDING' then now() + $4 * interval '1 millisecond' else next_attempt_at end
       where id = $1 and attempts = $2
       returning case when status = 'PENDING' then (extract(epoch from next_attempt_at) * 1000)::float8 end as next_ms`,
      [message.id, message.attempt, status, retryInMs ?? 0],
    );
    await tx.query(
      `insert into webhook_attempts (message_id, webhook_id, attempt, succeeded, response_status, response_body, error,
         attempted_at, duration_ms, next_attempt_at)
       select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 where exists (select 1 from webhook_messages where id = $1)`,
      [message.id, message.webhookId, message.attempt, result.succeeded, result.responseStatus, result.responseBody, result.error,
        result.attemptedAt.toISOString(), result.durationMs, state?.next_ms != null ? new Date(Number(state.next_ms)).toISOString() : null],
    );
  });
}

/** One attempt as the delivery log shows it. */
export interface DeliveryAttempt {
  id: number; messageId: string; jobId: string; event: WebhookEvent; attempt: number; succeeded: boolean;
  responseStatus: number | null; responseBody: string | null; error: string | null;
  attemptedAt: Date; durationMs: number; nextAttemptAt: Date | null;
}

/** A page of a webhook's attempts, newest first, strictly before the attempt `beforeId`. */
export async function listAttempts(db: SqlExecutor, webhookId: string, page: { beforeId?: number; limit: number }): Promise<DeliveryAttempt[]> {
  const rows = await db.query<Record<string, unknown>>(
    `select a.id, a.message_id, m.job_id, m.event, a.attempt, a.succeeded, a.response_status, a.response_body, a.error,
       (extract(epoch from a.attempted_at) * 1000)::float8 as attempted_ms, a.duration_ms,
       (extract(epoch from a.next_attempt_at) * 1000)::float8 as next_ms
     from webhook_attempts a join webhook_messages m on m.id = a.message_id
     where a.webhook_id = $1 and ($2::bigint is null or a.id < $2)
     order by a.id desc limit $3`,
    [webhookId, page.beforeId ?? null, page.limit],
  );
  return rows.map((r) => ({
    id: Number(r.id), messageId: r.message_id as string, jobId: r.job_id as string, event: r.event as WebhookEvent,
    attempt: Number(r.attempt), succeeded: r.succeeded as boolean, responseStatus: r.response_status as number | null,
    responseBody: r.response_body as string | null, error: r.error as string | null,
    attemptedAt: new Date(Number(r.attempted_ms)), durationMs: Number(r.duration_ms),
    nextAttemptAt: r.next_ms == null ? null : new Date(Number(r.next_ms)),
  }));
}

export async function countAttempts(db: SqlExecutor, webhookId: string): Promise<number> {
  const [row] = await db.query<{ n: number }>('select count(*)::int as n from webhook_attempts where webhook_id = $1', [webhookId]);
  return row.n;
}

/** Forgets messages that ended (delivered or given up) more than `days` ago, with their attempts. */
export async function forgetOldMessages(db: SqlExecutor, days: number): Promise<void> {
  await db.query(`delete from webhook_messages where status <> 'PENDING' and created_at < now() - $1 * interval '1 day'`, [days]);
}
