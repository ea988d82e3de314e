CREATE TABLE "collection_records" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"job_id" uuid NOT NULL,
	"line" bigint NOT NULL,
	"collection" text NOT NULL,
	"record_id" text,
	"data" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "collection_records_tenant_job_idx" ON "collection_records" USING brin ("tenant_id","job_id");--> statement-breakpoint
CREATE UNIQUE INDEX "collection_records_record_key" ON "collection_records" USING btree ("tenant_id","collection","record_id") WHERE record_id is not null;