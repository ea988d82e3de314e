ALTER TABLE "staged_uploads" ADD COLUMN "read_sha256" text;--> statement-breakpoint
ALTER TABLE "staged_uploads" ADD COLUMN "read_not_utf8" jsonb;--> statement-breakpoint
ALTER TABLE "staged_uploads" ADD COLUMN "decode_again_at" timestamp with time zone;