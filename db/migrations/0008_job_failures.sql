CREATE TABLE "job_failures" (
	"job_id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"job_type" text NOT NULL,
	"run_id" text NOT NULL,
	"error_type" text NOT NULL,
	"message" text NOT NULL,
	"failed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "job_failures_tenant_index" ON "job_failures" USING btree ("tenant_id","failed_at");--> statement-breakpoint
CREATE INDEX "job_failures_group_index" ON "job_failures" USING btree ("tenant_id","job_type","error_type");