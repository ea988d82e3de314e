/**
 * What a webhook receives when a job ends: a Standard Webhooks payload (`type`, `timestamp`,
 * `data`), its data the job as the Job type shows it (its global id, its counters). Built once,
 * when the end is handed to the webhooks, so every attempt sends the same bytes.
 */
import type { JobRow } from '../db/schema.js';
import { jobGlobalId } from '../jobs/globalIds.js';

export const WEBHOOK_EVENTS = ['JOB_COMPLETED', 'JOB_FAILED', 'JOB_CANCELLED'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

const EVENT_OF_STATUS: Record<string, WebhookEvent> = { COMPLETED: 'JOB_COMPLETED', FAILED: 'JOB_FAILED', CANCELLED: 'JOB_CANCELLED' };

/** The event a terminal status raises; null for one that raises none. */
export function eventOfStatus(status: string): WebhookEvent | null {
  return EVENT_OF_STATUS[status] ?? null;
}

/** The payload's `type`, dotted as Standard Webhooks names event types: JOB_COMPLETED is job.completed. */
export const eventType = (event: WebhookEvent): string => event.toLowerCase().replace('_', '.');

export function jobEventBody(event: WebhookEvent, job: JobRow): string {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return JSON.stringify({
    type: eventType(event),
    timestamp: iso(job.finishedAt) ?? new Date().toISOString(),
    data: {
      id: jobGlobalId(job.id),
      kind: job.kind,
      collection: job.collection,
      status: job.status,
      dryRun: job.dryRun,
      filename: job.filename,
      rowsTotal: job.rowsTotal,
      rowsProcessed: job.rowsProcessed,
      rowsImported: job.rowsImported,
      rowsCreated: job.rowsCreated,
      rowsUpdated: job.rowsUpdated,
      rowsDuplicate: job.rowsDuplicate,
      rowsFailed: job.rowsFailed,
      failureReason: job.failureReason,
      createdAt: iso(job.createdAt),
      startedAt: iso(job.startedAt),
      finishedAt: iso(job.finishedAt),
    },
  });
}
