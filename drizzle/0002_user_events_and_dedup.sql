CREATE TABLE "user_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"job_id" uuid NOT NULL,
	"line" bigint NOT NULL,
	"event_id" text,
	"user_id" text NOT NULL,
	"course_id" text NOT NULL,
	"question_id" text NOT NULL,
	"skill_id" text,
	"correct" boolean NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	"response_time_ms" integer,
	"attempt" integer
);
--> statement-breakpoint
CREATE INDEX "user_events_tenant_job_idx" ON "user_events" USING brin ("tenant_id","job_id");--> statement-breakpoint
CREATE UNIQUE INDEX "user_events_tenant_event_id_key" ON "user_events" USING btree ("tenant_id","event_id") WHERE event_id is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "events_tenant_event_id_key" ON "events" USING btree ("tenant_id","event_id") WHERE event_id is not null;