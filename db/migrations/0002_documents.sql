CREATE TABLE "documents" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"status" text DEFAULT 'processing' NOT NULL,
	"title" text,
	"filename" text,
	"content_type" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"sha256" text,
	"blob_key" text,
	"metadata" jsonb,
	"legal_hold" boolean DEFAULT false NOT NULL,
	"job_id" text,
	"uploaded_by_key_id" text,
	"page_count" integer,
	"char_count" integer,
	"chunk_count" integer,
	"failure_type" text,
	"failure_message" text,
	"deletion_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ingested_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "document_chunks" (
	"document_id" text NOT NULL,
	"chunk_index" integer NOT NULL,
	"tenant_id" text NOT NULL,
	"page" integer,
	"char_start" integer NOT NULL,
	"content" text NOT NULL,
	"tsv" "tsvector" GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED NOT NULL,
	"source_sha256" text NOT NULL,
	"workflow_id" text NOT NULL,
	"run_id" text NOT NULL,
	"activity" text NOT NULL,
	"activity_attempt" integer NOT NULL,
	"code_version" text NOT NULL,
	"produced_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "document_chunks_document_id_chunk_index_pk" PRIMARY KEY("document_id","chunk_index")
);
--> statement-breakpoint
CREATE TABLE "document_classifications" (
	"document_id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"label" text NOT NULL,
	"confidence" double precision NOT NULL,
	"classifier" text NOT NULL,
	"detail" jsonb,
	"source_sha256" text NOT NULL,
	"workflow_id" text NOT NULL,
	"run_id" text NOT NULL,
	"activity" text NOT NULL,
	"activity_attempt" integer NOT NULL,
	"code_version" text NOT NULL,
	"produced_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "document_texts" (
	"document_id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"text" text NOT NULL,
	"char_count" integer NOT NULL,
	"page_count" integer,
	"source_sha256" text NOT NULL,
	"workflow_id" text NOT NULL,
	"run_id" text NOT NULL,
	"activity" text NOT NULL,
	"activity_attempt" integer NOT NULL,
	"code_version" text NOT NULL,
	"produced_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_subscriptions" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"url" text NOT NULL,
	"events" text[] NOT NULL,
	"description" text,
	"created_by_key_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "document_retention_days" integer;--> statement-breakpoint
ALTER TABLE "documents" ADD CONSTRAINT "documents_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "document_chunks" ADD CONSTRAINT "document_chunks_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "document_classifications" ADD CONSTRAINT "document_classifications_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "document_texts" ADD CONSTRAINT "document_texts_document_id_documents_id_fk" FOREIGN KEY ("document_id") REFERENCES "public"."documents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_subscriptions" ADD CONSTRAINT "webhook_subscriptions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "documents_tenant_sha256_unique" ON "documents" USING btree ("tenant_id","sha256");--> statement-breakpoint
CREATE INDEX "documents_tenant_id_desc_index" ON "documents" USING btree ("tenant_id","id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "documents_retention_index" ON "documents" USING btree ("tenant_id","created_at") WHERE status <> 'deleted';--> statement-breakpoint
CREATE INDEX "document_chunks_tsv_index" ON "document_chunks" USING gin ("tsv");--> statement-breakpoint
CREATE INDEX "document_chunks_tenant_index" ON "document_chunks" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "webhook_subscriptions_tenant_id_index" ON "webhook_subscriptions" USING btree ("tenant_id");