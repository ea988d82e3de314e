DROP INDEX "events_tenant_job_idx";--> statement-breakpoint
CREATE INDEX "events_tenant_job_idx" ON "events" USING brin ("tenant_id","job_id");