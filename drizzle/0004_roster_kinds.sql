CREATE TABLE "job_outcomes" (
	"job_id" uuid NOT NULL,
	"line" bigint NOT NULL,
	"outcome" text NOT NULL,
	"record_id" uuid NOT NULL,
	CONSTRAINT "job_outcomes_job_id_line_pk" PRIMARY KEY("job_id","line")
);
--> statement-breakpoint
CREATE TABLE "locations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"job_id" uuid NOT NULL,
	"line" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"code" text NOT NULL,
	"name" text NOT NULL,
	"type" text NOT NULL,
	"parent_id" uuid
);
--> statement-breakpoint
CREATE TABLE "organisations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"job_id" uuid NOT NULL,
	"line" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"name" text NOT NULL,
	"external_id" text,
	"status" text NOT NULL,
	"description" text,
	"location_id" uuid
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"job_id" uuid NOT NULL,
	"line" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"name" text NOT NULL,
	"phone" text,
	"email" text,
	"organisation_id" uuid,
	"user_type" text,
	"roles" text[],
	"external_id" text
);
--> statement-breakpoint
ALTER TABLE "job_outcomes" ADD CONSTRAINT "job_outcomes_job_id_import_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."import_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "locations_tenant_code_key" ON "locations" USING btree ("tenant_id","code");--> statement-breakpoint
CREATE UNIQUE INDEX "organisations_tenant_external_id_key" ON "organisations" USING btree ("tenant_id","external_id") WHERE external_id is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "users_tenant_external_id_key" ON "users" USING btree ("tenant_id","external_id") WHERE external_id is not null;