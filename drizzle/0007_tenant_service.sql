CREATE TABLE "tenant_service" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"served_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenant_service" ADD CONSTRAINT "tenant_service_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "import_jobs_running_tenant_idx" ON "import_jobs" USING btree ("tenant_id") WHERE status = 'RUNNING';