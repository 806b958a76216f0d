CREATE TABLE "job_event_cursors" (
	"namespace" text PRIMARY KEY NOT NULL,
	"handled_until" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "callback_url" text;--> statement-breakpoint
ALTER TABLE "webhook_subscriptions" ADD COLUMN "job_types" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "webhook_subscriptions" ADD COLUMN "labels" text[] DEFAULT '{}'::text[] NOT NULL;