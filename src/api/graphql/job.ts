/** The Job type with its own fields: job, jobs, node (via the Relay plugin), cancelJob and jobProgress. */
import { GraphQLError } from 'graphql';
import { resolveCursorConnection } from '@pothos/plugin-relay';
import { countJobs, distinctValues, getJob, listJobs, type Job } from '../../jobs/jobStore.js';
import { queuePosition } from '../../jobs/queuePosition.js';
import { countJobErrors, listJobErrors, type JobError } from '../../jobs/rowErrors.js';
import { countJobOutcomes, listJobOutcomes, type FieldChange, type JobOutcome } from '../../jobs/rowOutcomes.js';
import { KINDS } from '../../kinds/index.js';
import { isTerminal, JobStatus } from '../../jobs/states.js';
import { jobProgressStream } from './jobProgressStream.js';
import { cancelJob } from '../../runner/cancelJob.js';
import { errorReportPath } from '../http/reportRoutes.js';
import { jobGlobalId, jobIdFromGlobalId } from '../../jobs/globalIds.js';
import type { UserError } from '../../intake/importService.js';
import { joinUrl } from '../http/publicUrl.js';
import { builder } from './builder.js';
import { badUserInput } from './badUserInput.js';
import { jobIdArgument } from './globalIdArgs.js';
import { decodeCursor, encodeCursor, pageSize } from './cursors.js';
import { ImportFormatEnum, ImportKindEnum, JobStatusEnum, LocationTypeEnum } from './enums.js';
import { UserErrorRef } from './userError.js';
import { ColumnMappingEntryRef } from './columnMappings.js';

const secondsBetween = (from: Date, to: Date) => (to.getTime() - from.getTime()) / 1000;

export const JobErrorRef = builder.objectRef<JobError>('JobError').implement({
  description: 'A row that failed: its 1-based line in the file (the CSV header is line 1), the column, the value and why',
  fields: (t) => ({
    line: t.int({ resolve: (e) => e.line }),
    column: t.string({ nullable: true, resolve: (e) => e.column }),
    value: t.string({ nullable: true, resolve: (e) => e.value }),
    message: t.exposeString('message'),
  }),
});

interface PageArgs { first?: number | null; after?: string | null; last?: number | null; before?: string | null }

/** Page sizes: a page of jobs is heavier than one of a job's errors or outcomes (README, Security). */
const JOB_PAGE = { defaultSize: 20, maxSize: 100 };
const JOB_LIST_PAGE = { defaultSize: 100, maxSize: 1000 };

/**
 * One forward page of a job's list (errors, outcomes), by keyset on a numeric key: up to 1,000
 * nodes (100 by default) after the cursor, and the total counted only if asked for.
 */
export async function forwardPage<T>(args: PageArgs, cursorPrefix: string, field: string, list: {
  load(after: number | undefined, limit: number): Promise<T[]>;
  keyOf(node: T): number;
  count(): Promise<number>;
}) {
  if (args.last != null || args.before != null) throw badUserInput(`${field} pages forward only: use first and after`);
  const first = pageSize(args, field, JOB_LIST_PAGE);
  const after = args.after ? decodeCursor(args.after, cursorPrefix) : undefined;
  const rows = await list.load(after, first + 1);
  const edges = rows.slice(0, first).map((node) => ({ cursor: encodeCursor(cursorPrefix, list.keyOf(node)), node }));
  return {
    edges,
    totalCount: list.count,
    pageInfo: {
      hasNextPage: rows.length > first, hasPreviousPage: after !== undefined,
      startCursor: edges[0]?.cursor ?? null, endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

export const RowOutcomeEnum = builder.enumType('RowOutcome', { values: ['CREATED', 'UPDATED', 'UNCHANGED'] as const });

/** A change as shown: the kind's column name (as in its files) where the table column has one. */
interface ShownChange extends FieldChange { kind: string }

export const FieldChangeRef = builder.objectRef<ShownChange>('FieldChange').implement({
  description: 'One value an update changed: the column (as the kind\'s files name it), the value it replaced and the one it wrote, as text',
  fields: (t) => ({
    column: t.string({ resolve: (c) => KINDS[c.kind]?.columns.find((k) => k.dbColumn === c.column)?.name ?? c.column }),
    from: t.string({ nullable: true, resolve: (c) => c.from }),
    to: t.string({ nullable: true, resolve: (c) => c.to }),
  }),
});

export const JobOutcomeRef = builder.objectRef<JobOutcome & { kind: string }>('JobOutcome').implement({
  description: 'What one row of a USERS, ORGANISATIONS or LOCATIONS import did (or, in a dry run, would do): created, updated or left unchanged which record',
  fields: (t) => ({
    line: t.int({ resolve: (o) => o.line }),
    outcome: t.field({ type: RowOutcomeEnum, resolve: (o) => o.outcome.toUpperCase() as 'CREATED' | 'UPDATED' | 'UNCHANGED' }),
    recordId: t.id({ description: "The record's id (a USER ID, a SCHOOL ID, a location's parentId); in a dry run, a created record's id is only a stand-in", resolve: (o) => o.recordId }),
    changes: t.field({
      type: [FieldChangeRef],
      nullable: true,
      description: 'UPDATED rows: each value the row changed, with the value it replaced; null for other outcomes',
      resolve: (o) => o.changes?.map((c) => ({ ...c, kind: o.kind })) ?? null,
    }),
  }),
});

export const FacetRef = builder.objectRef<{ field: string; values: string[] }>('Facet').implement({
  fields: (t) => ({ field: t.exposeString('field'), values: t.exposeStringList('values') }),
});

export const JobRef = builder.node(builder.objectRef<Job>('Job'), {
  id: { resolve: (job) => job.id },
  loadOne: (id, ctx) => getJob(ctx.db, ctx.tenant.id, id),
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'spoolPath' in value && 'attempt' in value,
  fields: (t) => ({
    kind: t.field({ type: ImportKindEnum, resolve: (j) => j.kind as never }),
    collection: t.exposeString('collection', { nullable: true }),
    locationType: t.field({ type: LocationTypeEnum, nullable: true, resolve: (j) => (j.locationType?.toUpperCase() ?? null) as never }),
    format: t.field({ type: ImportFormatEnum, resolve: (j) => j.format as never }),
    status: t.field({ type: JobStatusEnum, resolve: (j) => j.status as never }),
    dryRun: t.exposeBoolean('dryRun'),
    filename: t.exposeString('filename', { nullable: true }),
    delimiter: t.string({ nullable: true, description: 'CSV: the delimiter the file is read with (given, or detected from its header line)', resolve: (j) => (j.format === 'CSV' ? (j.delimiter ?? ',') : null) }),
    columnMapping: t.field({ type: [ColumnMappingEntryRef], nullable: true, description: "The column mapping applied to the file's header (CSV, XLSX) or keys (NDJSON), if any", resolve: (j) => j.columnMapping }),
    columnMappingName: t.string({ nullable: true, description: 'The saved column mapping the job used: one whose headers matched the file\'s, or the one saveMappingAs saved', resolve: (j) => j.columnMappingName }),
    fileSize: t.float({ nullable: true, resolve: (j) => j.fileSize }),
    bytesProcessed: t.float({ resolve: (j) => j.bytesProcessed }),
    rowsTotal: t.int({ nullable: true, resolve: (j) => j.rowsTotal }),
    rowsProcessed: t.exposeInt('rowsProcessed'),
    rowsImported: t.exposeInt('rowsImported'),
    rowsCreated: t.exposeInt('rowsCreated'),
    rowsUpdated: t.exposeInt('rowsUpdated'),
    rowsDuplicate: t.exposeInt('rowsDuplicate'),
    rowsFailed: t.exposeInt('rowsFailed'),
    rowsUnchanged: t.exposeInt('rowsUnchanged', { description: 'Roster kinds: rows equal to the stored record, which wrote nothing' }),
    percentComplete: t.float({
      description: 'Share of the file read and committed, 0 to 100',
      resolve: (j) => {
        if (j.status === 'COMPLETED') return 100;
        // A revert has no file: its share is of the rows it undoes.
        if (j.revertOf) return j.rowsTotal ? Math.min(100, Math.round((j.rowsProcessed / j.rowsTotal) * 10_000) / 100) : 0;
        if (!j.fileSize) return 0;
        return Math.min(100, Math.round((j.bytesProcessed / j.fileSize) * 10_000) / 100);
      },
    }),
    insertRate: t.float({
      nullable: true,
      description: 'Rows processed per second since the job started',
      resolve: (j) => {
        if (!j.startedAt) return null;
        const seconds = secondsBetween(j.startedAt, j.finishedAt ?? new Date());
        return seconds > 0 ? Math.round(j.rowsProcessed / seconds) : null;
      },
    }),
    queuePosition: t.int({
      nullable: true,
      description: 'While QUEUED: its place in the queue of every tenant\'s jobs, 1 being the next a free runner takes (tenants with nothing running go first, then the tenant served least recently); null otherwise. Pushed over jobProgress as the queue moves',
      resolve: (j, _args, ctx) => (j.status === JobStatus.QUEUED ? queuePosition(ctx.db, j.id) : null),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (j) => j.createdAt }),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (j) => j.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (j) => j.finishedAt }),
    elapsedSeconds: t.float({
      nullable: true,
      resolve: (j) => (j.startedAt ? secondsBetween(j.startedAt, j.finishedAt ?? new Date()) : null),
    }),
    failureReason: t.exposeString('failureReason', { nullable: true }),
    errors: t.connection({
      type: JobErrorRef,
      resolve: (job, args, ctx) => forwardPage(args, 'error', 'Job.errors', {
        load: (after, limit) => listJobErrors(ctx.db, job.id, { afterId: after, limit }),
        keyOf: (e) => e.id,
        count: () => countJobErrors(ctx.db, job.id),
      }),
    }, {
      name: 'JobErrorConnection',
      fields: (c) => ({ totalCount: c.int({ resolve: (conn) => (conn as unknown as { totalCount: () => Promise<number> }).totalCount() }) }),
    }, { name: 'JobErrorEdge' }),
    outcomes: t.connection({
      type: JobOutcomeRef,
      description: 'Roster kinds (USERS, ORGANISATIONS, LOCATIONS): each imported row with its outcome and record id, in line order',
      resolve: (job, args, ctx) => forwardPage(args, 'outcome', 'Job.outcomes', {
        load: async (after, limit) => (await listJobOutcomes(ctx.db, job.id, { afterLine: after, limit })).map((o) => ({ ...o, kind: job.kind })),
        keyOf: (o) => o.line,
        count: () => countJobOutcomes(ctx.db, job.id),
      }),
    }, {
      name: 'JobOutcomeConnection',
      fields: (c) => ({ totalCount: c.int({ resolve: (conn) => (conn as unknown as { totalCount: () => Promise<number> }).totalCount() }) }),
    }, { name: 'JobOutcomeEdge' }),
    errorReportUrl: t.string({
      nullable: true,
      description: "CSV of the failed rows (line, column, value, message, original row); GET it with the same Authorization header. Null while the job has no row errors",
      resolve: (job, _args, ctx) => (job.rowsFailed > 0 ? joinUrl(ctx.origin, errorReportPath(jobGlobalId(job.id))) : null),
    }),
    facets: t.field({
      type: [FacetRef],
      description: "Distinct values (up to 1,000) of the kind's key field among the job's imported rows, e.g. course_id for USER_EVENTS",
      resolve: async (job, _args, ctx) => {
        const kind = KINDS[job.kind];
        const column = kind?.columns.find((c) => c.name === kind.facetColumn);
        if (!kind || !column || job.dryRun) return [];
        return [{ field: column.name, values: await distinctValues(ctx.db, kind.table, column.dbColumn, job.id, 1000) }];
      },
    }),
  }),
});

/**
 * A filter's list of enum values, each once. A list longer than the enum has values can only
 * repeat some: it is refused, so that no request turns into a query with thousands of parameters.
 */
function filterValues<T extends string>(values: readonly T[] | null | undefined, all: readonly string[], name: string): T[] | undefined {
  if (!values?.length) return undefined;
  if (values.length > all.length) throw badUserInput(`jobs: filter.${name} lists ${values.length} values; there are ${all.length}, name each at most once`);
  return [...new Set(values)];
}

const JobFilterInput = builder.inputType('JobFilter', {
  fields: (t) => ({
    status: t.field({ type: [JobStatusEnum], required: false }),
    kind: t.field({ type: [ImportKindEnum], required: false }),
  }),
});

export const JobPayloadRef = builder.objectRef<{ job: Job | null; userErrors: UserError[] }>('JobPayload').implement({
  fields: (t) => ({
    job: t.field({ type: JobRef, nullable: true, resolve: (p) => p.job }),
    userErrors: t.field({ type: [UserErrorRef], resolve: (p) => p.userErrors }),
  }),
});

const notFound = (what: string) => new GraphQLError(`${what} not found`, { extensions: { code: 'NOT_FOUND' } });

builder.queryFields((t) => ({
  job: t.field({
    type: JobRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => getJob(ctx.db, ctx.tenant.id, jobIdArgument(String(id), 'job')),
  }),
  jobs: t.connection({
    type: JobRef,
    args: { filter: t.arg({ type: JobFilterInput, required: false }) },
    resolve: async (_root, args, ctx) => {
      pageSize(args, 'jobs', JOB_PAGE); // refuses what is out of range; resolveCursorConnection sizes the page
      const filter = {
        status: filterValues(args.filter?.status, Object.values(JobStatus), 'status'),
        kind: filterValues(args.filter?.kind, Object.keys(KINDS), 'kind'),
      };
      const connection = await resolveCursorConnection<Promise<Job[]>>(
        { args, toCursor: (job) => encodeCursor('job', job.seq), ...JOB_PAGE },
        ({ before, after, limit, inverted }) => listJobs(ctx.db, ctx.tenant.id, {
          filter,
          afterSeq: after ? decodeCursor(after, 'job') : undefined,
          beforeSeq: before ? decodeCursor(before, 'job') : undefined,
          limit,
          inverted,
        }),
      );
      return { ...connection!, totalCount: () => countJobs(ctx.db, ctx.tenant.id, filter) };
    },
  }, {
    name: 'JobConnection',
    fields: (c) => ({ totalCount: c.int({ resolve: (conn) => (conn as unknown as { totalCount: () => Promise<number> }).totalCount() }) }),
  }, { name: 'JobEdge' }),
}));

builder.mutationFields((t) => ({
  cancelJob: t.field({
    type: JobPayloadRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx): Promise<{ job: Job | null; userErrors: UserError[] }> => {
      const jobId = jobIdFromGlobalId(String(id));
      const release = { retentionMs: ctx.config.spoolRetentionMs, spareFiles: ctx.config.spoolSpareFiles, s3Spool: ctx.s3Spool };
      const job = jobId ? await cancelJob({ ...ctx, release }, ctx.tenant.id, jobId) : null;
      if (!job) return { job: null, userErrors: [{ code: 'NOT_FOUND', message: 'Job not found', field: ['id'] }] };
      if (isTerminal(job.status) && job.status !== 'CANCELLED') {
        return { job, userErrors: [{ code: 'INVALID_INPUT', message: `The job has already ended (${job.status})`, field: ['id'] }] };
      }
      return { job, userErrors: [] };
    },
  }),
}));

builder.subscriptionFields((t) => ({
  jobProgress: t.field({
    type: JobRef,
    description: 'The job now, then an update at least every 500 ms while it runs, then its terminal state; then the subscription completes',
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, { id }, ctx) => {
      const jobId = jobIdFromGlobalId(String(id));
      const job = jobId ? await getJob(ctx.db, ctx.tenant.id, jobId) : null;
      if (!job) throw notFound('Job');
      return jobProgressStream(ctx, job);
    },
    resolve: (job) => job,
  }),
}));
