CREATE TABLE "activity_attempt_usage" (
	"workflow_id" text NOT NULL,
	"run_id" text NOT NULL,
	"activity_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"activity_type" text NOT NULL,
	"wall_ms" integer NOT NULL,
	"cpu_us" bigint NOT NULL,
	"ended_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "activity_attempt_usage_workflow_id_run_id_activity_id_attempt_pk" PRIMARY KEY("workflow_id","run_id","activity_id","attempt")
);
--> statement-breakpoint
CREATE TABLE "job_run_usage" (
	"workflow_id" text NOT NULL,
	"run_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"job_id" text NOT NULL,
	"job_type" text NOT NULL,
	"day" date NOT NULL,
	"closed_at" timestamp with time zone NOT NULL,
	"execution_status" text NOT NULL,
	"actions" integer NOT NULL,
	"actions_by_kind" jsonb NOT NULL,
	"history_bytes" bigint NOT NULL,
	"history_events" integer NOT NULL,
	"activity_attempts" integer NOT NULL,
	"activity_wall_ms" bigint NOT NULL,
	"activity_cpu_us" bigint NOT NULL,
	"storage_bytes" bigint NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "job_run_usage_workflow_id_run_id_pk" PRIMARY KEY("workflow_id","run_id")
);
--> statement-breakpoint
CREATE TABLE "usage_daily" (
	"tenant_id" text NOT NULL,
	"job_type" text NOT NULL,
	"day" date NOT NULL,
	"runs" integer DEFAULT 0 NOT NULL,
	"actions" bigint DEFAULT 0 NOT NULL,
	"history_bytes" bigint DEFAULT 0 NOT NULL,
	"activity_attempts" bigint DEFAULT 0 NOT NULL,
	"activity_wall_ms" bigint DEFAULT 0 NOT NULL,
	"activity_cpu_us" bigint DEFAULT 0 NOT NULL,
	"storage_bytes" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "usage_daily_tenant_id_day_job_type_pk" PRIMARY KEY("tenant_id","day","job_type")
);
--> statement-breakpoint
ALTER TABLE "job_run_usage" ADD CONSTRAINT "job_run_usage_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "activity_attempt_usage_ended_index" ON "activity_attempt_usage" USING btree ("ended_at");--> statement-breakpoint
CREATE INDEX "job_run_usage_job_index" ON "job_run_usage" USING btree ("tenant_id","job_id");