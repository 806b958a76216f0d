CREATE TABLE "rate_limit_buckets" (
	"tenant_id" text NOT NULL,
	"bucket" text NOT NULL,
	"tokens" double precision NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rate_limit_buckets_tenant_id_bucket_pk" PRIMARY KEY("tenant_id","bucket")
);
--> statement-breakpoint
DROP INDEX "jobs_tenant_id_created_at_index";--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "create_rate_per_second" double precision;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "create_burst" integer;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "max_running_jobs" integer;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "labels" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "priority" smallint;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "retry_of" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "schedule_id" text;--> statement-breakpoint
CREATE INDEX "jobs_tenant_id_desc_index" ON "jobs" USING btree ("tenant_id","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "jobs_labels_index" ON "jobs" USING gin ("labels");