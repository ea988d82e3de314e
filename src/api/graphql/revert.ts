/** revertJob, and the links between an import and its revert (Job.revertOf, Job.revertedBy). */
import { jobIdFromGlobalId } from '../../jobs/globalIds.js';
import { getJob } from '../../jobs/jobStore.js';
import { createRevertJob, findRevertOf } from '../../jobs/reverts.js';
import { jobsInProgressMessage } from '../../spool/spoolReservations.js';
import type { UserError } from '../../intake/importService.js';
import { builder } from './builder.js';
import { ImportPayloadRef } from './imports.js';
import { JobRef } from './job.js';

const RevertJobInput = builder.inputType('RevertJobInput', {
  fields: (t) => ({
    dryRun: t.boolean({ description: 'Tell what the revert would undo and where it would conflict, changing nothing' }),
    force: t.boolean({ description: 'Also undo rows whose records a later job changed again (by default those are left and reported as row errors)' }),
  }),
});

builder.objectFields(JobRef, (t) => ({
  revertOf: t.field({
    type: JobRef,
    nullable: true,
    description: 'On a revert: the import it undoes',
    resolve: (job, _args, ctx) => (job.revertOf ? getJob(ctx.db, ctx.tenant.id, job.revertOf) : null),
  }),
  revertedBy: t.field({
    type: JobRef,
    nullable: true,
    description: 'The revert of this import (the latest, dry runs aside), whatever its status',
    resolve: (job, _args, ctx) => findRevertOf(ctx.db, ctx.tenant.id, job.id),
  }),
}));

builder.mutationFields((t) => ({
  revertJob: t.field({
    type: ImportPayloadRef,
    description: 'Queues a job that undoes a COMPLETED or FAILED import: appended rows are deleted; created records are deleted and updated ones get back the values the import overwrote. An import is reverted once',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: RevertJobInput, required: false }) },
    resolve: async (_root, { id, input }, ctx) => {
      const jobId = jobIdFromGlobalId(String(id));
      const refuse = (error: UserError) => ({ job: null, userErrors: [error] });
      if (!jobId) return refuse({ code: 'NOT_FOUND', message: 'Job not found', field: ['id'] });
      const result = await createRevertJob(ctx.db, { tenantId: ctx.tenant.id, jobId, dryRun: input?.dryRun ?? false, force: input?.force ?? false },
        ctx.config.maxActiveJobsPerTenant);
      if ('job' in result) {
        await ctx.bus.publishQueued(result.job.id);
        return { job: result.job, userErrors: [] };
      }
      if (result.code === 'NOT_FOUND') return refuse({ code: 'NOT_FOUND', message: 'Job not found', field: ['id'] });
      if (result.code === 'IMPORT_IN_PROGRESS') return refuse({ code: 'IMPORT_IN_PROGRESS', message: jobsInProgressMessage(ctx.config.maxActiveJobsPerTenant) });
      return refuse({ code: 'INVALID_INPUT', message: result.message, field: ['id'] });
    },
  }),
}));
