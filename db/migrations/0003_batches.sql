CREATE TABLE "batch_input_items" (
	"input_id" text NOT NULL,
	"idx" integer NOT NULL,
	"item" jsonb NOT NULL,
	CONSTRAINT "batch_input_items_input_id_idx_pk" PRIMARY KEY("input_id","idx")
);
--> statement-breakpoint
CREATE TABLE "batch_inputs" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"job_type" text NOT NULL,
	"item_count" integer NOT NULL,
	"created_by_key_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "batch_item_failures" (
	"tenant_id" text NOT NULL,
	"batch_job_id" text NOT NULL,
	"item_index" integer NOT NULL,
	"round" integer NOT NULL,
	"error_type" text NOT NULL,
	"message" text NOT NULL,
	"failed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "batch_item_failures_tenant_id_batch_job_id_item_index_pk" PRIMARY KEY("tenant_id","batch_job_id","item_index")
);
--> statement-breakpoint
ALTER TABLE "batch_input_items" ADD CONSTRAINT "batch_input_items_input_id_batch_inputs_id_fk" FOREIGN KEY ("input_id") REFERENCES "public"."batch_inputs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "batch_inputs" ADD CONSTRAINT "batch_inputs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "batch_item_failures_tenant_id_batch_job_id_round_item_index_index" ON "batch_item_failures" USING btree ("tenant_id","batch_job_id","round","item_index");