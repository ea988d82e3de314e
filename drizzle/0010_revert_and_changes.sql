ALTER TABLE "import_jobs" ADD COLUMN "rows_unchanged" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "import_jobs" ADD COLUMN "revert_of" uuid;--> statement-breakpoint
ALTER TABLE "import_jobs" ADD COLUMN "revert_force" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "job_outcomes" ADD COLUMN "changes" jsonb;--> statement-breakpoint
ALTER TABLE "job_outcomes" ADD COLUMN "previous_job_id" uuid;--> statement-breakpoint
ALTER TABLE "job_outcomes" ADD COLUMN "previous_line" bigint;--> statement-breakpoint
ALTER TABLE "import_jobs" ADD CONSTRAINT "import_jobs_revert_of_import_jobs_id_fk" FOREIGN KEY ("revert_of") REFERENCES "public"."import_jobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "import_jobs_revert_of_idx" ON "import_jobs" USING btree ("revert_of") WHERE revert_of is not null;