CREATE TABLE "job_dedupe_keys" (
	"tenant_id" text NOT NULL,
	"key" text NOT NULL,
	"job_id" text NOT NULL,
	"held_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "job_dedupe_keys_tenant_id_key_pk" PRIMARY KEY("tenant_id","key")
);
--> statement-breakpoint
CREATE INDEX "job_dedupe_keys_expires_index" ON "job_dedupe_keys" USING btree ("expires_at");