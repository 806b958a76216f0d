ALTER TABLE "jobs" ADD COLUMN "parent_workflow_id" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "parent_job_id" text;--> statement-breakpoint
CREATE INDEX "jobs_parent_index" ON "jobs" USING btree ("tenant_id","parent_job_id","id" DESC NULLS LAST) WHERE "jobs"."parent_job_id" is not null;--> statement-breakpoint
CREATE INDEX "jobs_schedule_index" ON "jobs" USING btree ("tenant_id","schedule_id","id" DESC NULLS LAST) WHERE "jobs"."schedule_id" is not null;