/**
 * The schema of record. drizzle-kit generates the migrations in drizzle/ from this file, and the
 * bulk writer derives its COPY column lists from these tables (see kinds/*).
 */
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn, bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid,
} from 'drizzle-orm/pg-core';

export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** API keys are stored as a SHA-256 of the key: the key itself is shown once, at creation. */
export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  keyHash: text('key_hash').notNull().unique(),
  /** The first characters of the key, to tell keys apart in `keys list`; not enough to use it. */
  prefix: text('prefix').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  revokedAt: timestamp('revoked_at', { withTimezone: true }),
});

export const importJobs = pgTable('import_jobs', {
  id: uuid('id').primaryKey().defaultRandom(),
  /** Creation order; the keyset for pagination (newest first) and for claiming (oldest first). */
  seq: bigint('seq', { mode: 'number' }).generatedAlwaysAsIdentity().notNull().unique(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  kind: text('kind').notNull(),
  collection: text('collection'),
  locationType: text('location_type'),
  format: text('format').notNull(),
  status: text('status').notNull(),
  dryRun: boolean('dry_run').notNull().default(false),
  maxErrors: integer('max_errors'),
  filename: text('filename'),
  fileSize: bigint('file_size', { mode: 'number' }),
  fileSha256: text('file_sha256'),
  spoolPath: text('spool_path'),
  /** The CSV header as written in the file, so a resumed reader can start mid-file. */
  header: jsonb('header').$type<string[]>(),
  /** XLSX: the sheet asked for (`sheet`), as given; null: the first. Part of the file's identity for DUPLICATE_FILE. */
  sheet: text('sheet'),
  /** CSV: the delimiter (given or detected at upload); null is a comma. */
  delimiter: text('delimiter'),
  /** CSV: the column mapping applied to the header (kinds/columnMapping.ts), given or saved; and the saved one's name. */
  columnMapping: jsonb('column_mapping').$type<{ from: string; to: string | null }[]>(),
  columnMappingName: text('column_mapping_name'),
  bytesProcessed: bigint('bytes_processed', { mode: 'number' }).notNull().default(0),
  rowsTotal: integer('rows_total'),
  rowsProcessed: integer('rows_processed').notNull().default(0),
  rowsImported: integer('rows_imported').notNull().default(0),
  rowsCreated: integer('rows_created').notNull().default(0),
  rowsUpdated: integer('rows_updated').notNull().default(0),
  rowsDuplicate: integer('rows_duplicate').notNull().default(0),
  rowsFailed: integer('rows_failed').notNull().default(0),
  /** Roster rows equal to the stored record: nothing written. */
  rowsUnchanged: integer('rows_unchanged').notNull().default(0),
  /**
   * Set on a revert job (runner/revertJob.ts): the import it undoes. Its checkpoint_offset is then
   * a cursor in that import's rows (runner/revertCursor.ts), not a byte offset in a file.
   */
  revertOf: uuid('revert_of').references((): AnyPgColumn => importJobs.id),
  /** A revert that also undoes rows a later job changed again (RevertJobInput.force). */
  revertForce: boolean('revert_force').notNull().default(false),
  /** Byte offset and line number just past the last committed batch: where a resumed run starts. */
  checkpointOffset: bigint('checkpoint_offset', { mode: 'number' }).notNull().default(0),
  checkpointLine: bigint('checkpoint_line', { mode: 'number' }).notNull().default(0),
  /** Lease: the runner that holds the job, until when, and a fencing token bumped at every claim. */
  leaseOwner: text('lease_owner'),
  leaseExpiresAt: timestamp('lease_expires_at', { withTimezone: true }),
  attempt: integer('attempt').notNull().default(0),
  cancelRequested: boolean('cancel_requested').notNull().default(false),
  failureReason: text('failure_reason'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  startedAt: timestamp('started_at', { withTimezone: true }),
  finishedAt: timestamp('finished_at', { withTimezone: true }),
}, (t) => [
  index('import_jobs_tenant_seq_idx').on(t.tenantId, t.seq),
  index('import_jobs_claimable_idx').on(t.seq).where(sql`status in ('QUEUED', 'RUNNING')`),
  // The claim order asks, per queued job, whether its tenant already has a job running.
  index('import_jobs_running_tenant_idx').on(t.tenantId).where(sql`status = 'RUNNING'`),
  index('import_jobs_revert_of_idx').on(t.revertOf).where(sql`revert_of is not null`),
]);

/**
 * When each tenant last had a runner (a claim, or a job handed back at the end of its time
 * slice): claims prefer the tenant served least recently, across every instance (jobs/claimOrder.ts).
 */
export const tenantService = pgTable('tenant_service', {
  tenantId: uuid('tenant_id').primaryKey().references(() => tenants.id),
  servedAt: timestamp('served_at', { withTimezone: true }).notNull(),
});

/**
 * A file arriving into the spool (an upload, a download, a batch's records), from before its
 * first byte is written until its job exists or it is refused: so that the limits on arriving
 * files hold across every instance on this database (a tenant's uploads at once, the spool's
 * total size). Held rows are renewed while the file arrives; an instance that dies leaves rows
 * that expire.
 */
export const uploadReservations = pgTable('upload_reservations', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  spoolPath: text('spool_path').notNull(),
  /** The most the file may take in the spool: its declared size, or what it has been allowed so far. */
  bytes: bigint('bytes', { mode: 'number' }).notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
}, (t) => [index('upload_reservations_tenant_idx').on(t.tenantId)]);

/**
 * A file the client sends in parts, straight to storage (createStagedUpload), until it is imported
 * or expires. `location` is where the whole file will be (a spool file or s3://bucket/key): a
 * folder spool writes each part at its offset in that file; an S3 spool has a multipart upload
 * (`s3UploadId`) that completes into that object. `receivedParts` counts a folder spool's parts
 * only once their last byte is written; an S3 spool asks the store (ListParts).
 */
export const stagedUploads = pgTable('staged_uploads', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  filename: text('filename').notNull(),
  fileSize: bigint('file_size', { mode: 'number' }).notNull(),
  partSize: bigint('part_size', { mode: 'number' }).notNull(),
  /** What the client declared; checked against the file before it is imported. */
  sha256: text('sha256'),
  location: text('location').notNull(),
  s3UploadId: text('s3_upload_id'),
  /** The HMAC key of this upload's part URLs on the service's own endpoint; never leaves the database. */
  signingKey: text('signing_key').notNull(),
  receivedParts: integer('received_parts').array().notNull().default(sql`'{}'::integer[]`),
  /** The S3 multipart upload was completed into `location` (a first importStagedUpload got that far). */
  completed: boolean('completed').notNull().default(false),
  /**
   * The SHA-256 of the whole file as a first importStagedUpload read it back (its size was
   * file_size), and where it stops being UTF-8: a later import (after a refused one) needs only
   * these and the file's head, not the whole file read again. Cleared when a part is sent again.
   */
  readSha256: text('read_sha256'),
  readNotUtf8: jsonb('read_not_utf8').$type<{ offset: number; line: number; byte: number }>(),
  /**
   * A file that must be decoded (gzip, XLSX, not UTF-8) is read whole and decoded at each import:
   * after a refused one, the next may begin only this late (as long again as the refused one took).
   */
  decodeAgainAt: timestamp('decode_again_at', { withTimezone: true }),
  jobId: uuid('job_id'),
  /** An importStagedUpload holds it until then: one import at a time, and no part written meanwhile. */
  importingUntil: timestamp('importing_until', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
}, (t) => [index('staged_uploads_tenant_idx').on(t.tenantId), index('staged_uploads_expires_idx').on(t.expiresAt)]);

/**
 * A tenant's saved column mappings (intake/columnMappingStore.ts): `mapping` as given, and the
 * header of the file it was saved with, which a later file's header must match for the mapping
 * to apply to it unasked.
 */
export const columnMappings = pgTable('column_mappings', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  name: text('name').notNull(),
  kind: text('kind').notNull(),
  mapping: jsonb('mapping').notNull().$type<{ from: string; to: string | null }[]>(),
  headers: jsonb('headers').notNull().$type<string[]>(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [uniqueIndex('column_mappings_tenant_name_key').on(t.tenantId, t.name)]);

export const jobErrors = pgTable('job_errors', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  jobId: uuid('job_id').notNull().references(() => importJobs.id, { onDelete: 'cascade' }),
  line: bigint('line', { mode: 'number' }).notNull(),
  column: text('column'),
  value: text('value'),
  message: text('message').notNull(),
  rawRow: text('raw_row'),
}, (t) => [index('job_errors_job_line_idx').on(t.jobId, t.line, t.id)]);

/** EVENTS (Userpilot shape). `line` is the row's line in its file: (job_id, line) names each row once. */
export const events = pgTable('events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  tenantId: uuid('tenant_id').notNull(),
  jobId: uuid('job_id').notNull(),
  line: bigint('line', { mode: 'number' }).notNull(),
  eventId: text('event_id'),
  eventType: text('event_type').notNull(),
  eventName: text('event_name'),
  source: text('source'),
  userId: text('user_id'),
  companyId: text('company_id'),
  hostname: text('hostname'),
  pathname: text('pathname'),
  countryCode: text('country_code'),
  screenWidth: integer('screen_width'),
  screenHeight: integer('screen_height'),
  operatingSystem: text('operating_system'),
  browser: text('browser'),
  browserLanguage: text('browser_language'),
  userAgent: text('user_agent'),
  deviceType: text('device_type'),
  insertedAt: timestamp('inserted_at', { withTimezone: true }).notNull(),
  metadata: jsonb('metadata').notNull().default({}),
}, (t) => [
  // BRIN, not B-tree: a job's rows are appended together, so block ranges summarise them well, and
  // a BRIN costs next to nothing on COPY, where a B-tree on these two uuids slowed imports
  // markedly (docs/performance.md).
  index('events_tenant_job_idx').using('brin', t.tenantId, t.jobId),
  // Dedup (ImportKind.dedupColumn): only rows that carry an event_id pay for this index.
  uniqueIndex('events_tenant_event_id_key').on(t.tenantId, t.eventId).where(sql`event_id is not null`),
]);

/** USER_EVENTS: learning interactions (knowledge-tracing logs). Appended, deduplicated by event_id. */
export const userEvents = pgTable('user_events', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  tenantId: uuid('tenant_id').notNull(),
  jobId: uuid('job_id').notNull(),
  line: bigint('line', { mode: 'number' }).notNull(),
  eventId: text('event_id'),
  userId: text('user_id').notNull(),
  courseId: text('course_id').notNull(),
  questionId: text('question_id').notNull(),
  skillId: text('skill_id'),
  correct: boolean('correct').notNull(),
  timestamp: timestamp('timestamp', { withTimezone: true }).notNull(),
  responseTimeMs: integer('response_time_ms'),
  attempt: integer('attempt'),
}, (t) => [
  index('user_events_tenant_job_idx').using('brin', t.tenantId, t.jobId),
  uniqueIndex('user_events_tenant_event_id_key').on(t.tenantId, t.eventId).where(sql`event_id is not null`),
]);

/** COLLECTION: any JSON object into a named collection (Connect); deduplicated by `id` within the collection. */
export const collectionRecords = pgTable('collection_records', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  tenantId: uuid('tenant_id').notNull(),
  jobId: uuid('job_id').notNull(),
  line: bigint('line', { mode: 'number' }).notNull(),
  collection: text('collection').notNull(),
  recordId: text('record_id'),
  data: jsonb('data').notNull(),
}, (t) => [
  index('collection_records_tenant_job_idx').using('brin', t.tenantId, t.jobId),
  uniqueIndex('collection_records_record_key').on(t.tenantId, t.collection, t.recordId).where(sql`record_id is not null`),
]);

/**
 * The columns every roster record (USERS, ORGANISATIONS, LOCATIONS) carries: its id, its tenant,
 * and the job and line that last wrote it. Rows are upserted, not appended.
 */
const rosterRecord = () => ({
  id: uuid('id').primaryKey(),
  tenantId: uuid('tenant_id').notNull(),
  jobId: uuid('job_id').notNull(),
  line: bigint('line', { mode: 'number' }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** LOCATIONS (Sunbird): a hierarchy state > district > block > cluster; upserted on code. */
export const locations = pgTable('locations', {
  ...rosterRecord(),
  code: text('code').notNull(),
  name: text('name').notNull(),
  type: text('type').notNull(),
  parentId: uuid('parent_id'),
}, (t) => [uniqueIndex('locations_tenant_code_key').on(t.tenantId, t.code)]);

/** ORGANISATIONS (Sunbird schools): upserted on external id; a block location may hold them. */
export const organisations = pgTable('organisations', {
  ...rosterRecord(),
  name: text('name').notNull(),
  externalId: text('external_id'),
  status: text('status').notNull(),
  description: text('description'),
  locationId: uuid('location_id'),
}, (t) => [uniqueIndex('organisations_tenant_external_id_key').on(t.tenantId, t.externalId).where(sql`external_id is not null`)]);

/** USERS (Sunbird): upserted on external id; belong to an organisation (SCHOOL ID). */
export const users = pgTable('users', {
  ...rosterRecord(),
  name: text('name').notNull(),
  phone: text('phone'),
  email: text('email'),
  organisationId: uuid('organisation_id'),
  userType: text('user_type'),
  roles: text('roles').array(),
  externalId: text('external_id'),
}, (t) => [uniqueIndex('users_tenant_external_id_key').on(t.tenantId, t.externalId).where(sql`external_id is not null`)]);

/**
 * What each row of an upsert job did: created, updated or left unchanged which record. Job.outcomes
 * pages through it. An update keeps what it overwrote, in the same transaction as the write, so
 * that revertJob can put it back: `changes` ([{column, from, to}], table columns, values as text)
 * and the job and line that had written the record before it.
 */
export const jobOutcomes = pgTable('job_outcomes', {
  jobId: uuid('job_id').notNull().references(() => importJobs.id, { onDelete: 'cascade' }),
  line: bigint('line', { mode: 'number' }).notNull(),
  outcome: text('outcome').notNull(),
  recordId: uuid('record_id').notNull(),
  changes: jsonb('changes').$type<{ column: string; from: string | null; to: string | null }[]>(),
  previousJobId: uuid('previous_job_id'),
  previousLine: bigint('previous_line', { mode: 'number' }),
}, (t) => [primaryKey({ columns: [t.jobId, t.line] })]);

/**
 * The outbox of job ends: a row is inserted in the same statement that sets a job's terminal
 * state, so an end that committed is never lost, whatever happens to the process after. The
 * webhook dispatcher (webhooks/) turns each into its webhooks' messages and deletes it, in one
 * transaction. Owned by jobs/jobEndings.ts.
 */
export const jobEndings = pgTable('job_endings', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  jobId: uuid('job_id').notNull().references(() => importJobs.id, { onDelete: 'cascade' }),
  tenantId: uuid('tenant_id').notNull(),
  status: text('status').notNull(),
  endedAt: timestamp('ended_at', { withTimezone: true }).notNull().defaultNow(),
});

/** A tenant's webhook: where job ends are sent. The signing secret is kept encrypted (webhooks/secretBox.ts). */
export const webhooks = pgTable('webhooks', {
  id: uuid('id').primaryKey().defaultRandom(),
  tenantId: uuid('tenant_id').notNull().references(() => tenants.id),
  url: text('url').notNull(),
  events: text('events').array().notNull(),
  secretCiphertext: text('secret_ciphertext').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [index('webhooks_tenant_idx').on(t.tenantId)]);

/**
 * One event for one webhook (a Standard Webhooks message: its id and body stay the same across
 * attempts). PENDING until DELIVERED or FAILED (given up); `attempts` is bumped by each claim and
 * fences the claimer's write of the outcome.
 */
export const webhookMessages = pgTable('webhook_messages', {
  id: uuid('id').primaryKey().defaultRandom(),
  webhookId: uuid('webhook_id').notNull().references(() => webhooks.id, { onDelete: 'cascade' }),
  jobId: uuid('job_id').notNull(),
  event: text('event').notNull(),
  body: text('body').notNull(),
  status: text('status').notNull().default('PENDING'),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
  /** The instance delivering it now; its claim also moved next_attempt_at past the attempt's end. */
  leaseOwner: text('lease_owner'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
}, (t) => [index('webhook_messages_due_idx').on(t.nextAttemptAt).where(sql`status = 'PENDING'`)]);

/** The delivery log: one row per attempt, with what the receiver answered (a prefix of its body only). */
export const webhookAttempts = pgTable('webhook_attempts', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  messageId: uuid('message_id').notNull().references(() => webhookMessages.id, { onDelete: 'cascade' }),
  webhookId: uuid('webhook_id').notNull(),
  attempt: integer('attempt').notNull(),
  succeeded: boolean('succeeded').notNull(),
  responseStatus: integer('response_status'),
  responseBody: text('response_body'),
  error: text('error'),
  attemptedAt: timestamp('attempted_at', { withTimezone: true }).notNull(),
  durationMs: integer('duration_ms').notNull(),
  nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
}, (t) => [index('webhook_attempts_webhook_idx').on(t.webhookId, t.id)]);

export const schema = { tenants, apiKeys, importJobs, uploadReservations, stagedUploads, jobErrors, events, userEvents, collectionRecords, locations, organisations, users, jobOutcomes,
  jobEndings, webhooks, webhookMessages, webhookAttempts };
export type JobRow = typeof importJobs.$inferSelect;
