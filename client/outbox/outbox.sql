-- Jobplane transactional outbox: apply in the product service's own database
-- (Postgres 13+). Rows are inserted inside the service's transactions
-- (enqueueJob() in jobplane/client); the relay (npm run outbox-relay) turns each
-- committed row into exactly one job. Every statement is idempotent.
-- Generated from client/outbox/table.ts: npx tsx client/outbox/print.ts sql

create table if not exists "jobplane_outbox" (
  -- Relay order (oldest first).
  id bigint generated always as identity primary key,
  -- Sent as the Idempotency-Key of POST /v1/jobs: a re-send returns the same job.
  idempotency_key uuid not null default gen_random_uuid() unique,
  job_type text not null check (char_length(job_type) between 1 and 100),
  input jsonb not null,
  labels text[] not null default '{}',
  priority smallint check (priority between 1 and 5),
  -- The job starts no earlier than this (a delay counts from the enqueuing transaction).
  start_at timestamptz,
  created_at timestamptz not null default now(),
  -- Sends tried so far (each claim counts one).
  attempts integer not null default 0,
  -- A retried row waits until then (backoff, or the API's Retry-After).
  next_attempt_at timestamptz not null default now(),
  -- A relay's claim: no other relay takes the row before then, even if that relay died.
  locked_until timestamptz,
  lease_token uuid,
  relayed_at timestamptz,
  -- The Jobplane job this row became.
  job_id text,
  -- Set when the API refused the request for good (validation, unknown job type): never retried.
  failed_at timestamptz,
  last_error text,
  constraint "jobplane_outbox_settled_once" check (relayed_at is null or failed_at is null),
  constraint "jobplane_outbox_relayed_has_job" check ((relayed_at is null) = (job_id is null))
);

-- Rows still to relay, in relay order: the relay's claim and its lag gauge read this.
create index if not exists "jobplane_outbox_pending_idx" on "jobplane_outbox" (id) where relayed_at is null and failed_at is null;
-- Rows refused for good, for the failed-rows gauge and for whoever fixes them.
create index if not exists "jobplane_outbox_failed_idx" on "jobplane_outbox" (failed_at) where failed_at is not null;
-- Relayed rows by age, for the relay's clean-up of old ones.
create index if not exists "jobplane_outbox_relayed_idx" on "jobplane_outbox" (relayed_at) where relayed_at is not null;

-- Wakes listening relays. NOTIFY is delivered at commit, so a rolled-back
-- insert wakes no one; once per statement, not per row.
create or replace function "jobplane_outbox_notify"() returns trigger language plpgsql as $fn$
begin
  perform pg_notify('jobplane_outbox', '');
  return null;
end
$fn$;

do $do$
begin
  if not exists (select from pg_trigger where tgrelid = '"jobplane_outbox"'::regclass and tgname = 'jobplane_outbox_notify') then
    create trigger "jobplane_outbox_notify" after insert on "jobplane_outbox" for each statement execute function "jobplane_outbox_notify"();
  end if;
end
$do$;
