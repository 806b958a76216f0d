/**
 * The outbox table a product service keeps in its OWN database: its name
 * rules, its DDL (the one source `outbox.sql` is generated from) and
 * `ensureOutboxTable()`, which applies that DDL idempotently.
 */
import { queryScript, type OutboxDatabase } from './database.ts';
import { OutboxTableNameError } from './errors.ts';

/** Table the helpers and the relay use when none is named. */
export const defaultOutboxTable = 'jobplane_outbox';

/** Room left under Postgres' 63-byte identifier limit for the `_relayed_idx`-style suffixes of the derived names. */
const maxTableNameLength = 48;
const identifier = /^[a-z_][a-z0-9_]*$/;

export interface OutboxTableOptions {
  /**
   * The outbox table, optionally schema-qualified (`orders.jobplane_outbox`):
   * lower-case letters, digits and `_`, at most 48 characters per part.
   * @default 'jobplane_outbox'
   */
  table?: string;
}

/** The SQL names derived from one outbox table name, quoted where SQL needs them quoted. */
export interface OutboxTable {
  /** The name as given, e.g. `orders.jobplane_outbox`. */
  name: string;
  /** `"orders"."jobplane_outbox"`: for FROM, UPDATE, regclass literals. */
  quoted: string;
  /** The NOTIFY channel an insert signals on commit (the name as given). */
  channel: string;
  /** Unqualified base name, the prefix of the index, trigger and function names. */
  baseName: string;
  /** `"orders".` or empty: where the trigger function lives. */
  schemaPrefix: string;
}

/**
 * Parses and checks an outbox table name.
 * @throws OutboxTableNameError when the name is not one or two plain identifiers.
 */
export function outboxTable(name: string = defaultOutboxTable): OutboxTable {
  const parts = name.split('.');
  const valid = parts.length <= 2 && parts.every((p) => identifier.test(p) && p.length <= maxTableNameLength);
  if (!valid) {
    throw new OutboxTableNameError(
      `outbox table "${name}" is not valid: use lower-case letters, digits and _ (at most ${maxTableNameLength} characters), optionally schema-qualified as schema.table`,
    );
  }
  const baseName = parts.at(-1)!;
  const schemaPrefix = parts.length === 2 ? `"${parts[0]}".` : '';
  return { name, quoted: `${schemaPrefix}"${baseName}"`, channel: name, baseName, schemaPrefix };
}

/**
 * The DDL of the outbox table, its indexes and its NOTIFY trigger; every
 * statement is idempotent (`if not exists`, `create or replace`, a guarded
 * `create trigger`), so it can run at every deploy. Needs Postgres 13 or later
 * (`gen_random_uuid()` built in).
 */
export function outboxTableSql(options: OutboxTableOptions = {}): string {
  const t = outboxTable(options.table);
  const b = t.baseName;
  const notifyFunction = `${t.schemaPrefix}"${b}_notify"`;
  return `-- Jobplane transactional outbox: apply in the product service's own database
-- (Postgres 13+). Rows are inserted inside the service's transactions
-- (enqueueJob() in jobplane/client); the relay (npm run outbox-relay) turns each
-- committed row into exactly one job. Every statement is idempotent.
-- Generated from client/outbox/table.ts: npx tsx client/outbox/print.ts sql

create table if not exists ${t.quoted} (
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
  constraint "${b}_settled_once" check (relayed_at is null or failed_at is null),
  constraint "${b}_relayed_has_job" check ((relayed_at is null) = (job_id is null))
);

-- Rows still to relay, in relay order: the relay's claim and its lag gauge read this.
create index if not exists "${b}_pending_idx" on ${t.quoted} (id) where relayed_at is null and failed_at is null;
-- Rows refused for good, for the failed-rows gauge and for whoever fixes them.
create index if not exists "${b}_failed_idx" on ${t.quoted} (failed_at) where failed_at is not null;
-- Relayed rows by age, for the relay's clean-up of old ones.
create index if not exists "${b}_relayed_idx" on ${t.quoted} (relayed_at) where relayed_at is not null;

-- Wakes listening relays. NOTIFY is delivered at commit, so a rolled-back
-- insert wakes no one; once per statement, not per row.
create or replace function ${notifyFunction}() returns trigger language plpgsql as $fn$
begin
  perform pg_notify('${t.channel}', '');
  return null;
end
$fn$;

do $do$
begin
  if not exists (select from pg_trigger where tgrelid = '${t.quoted}'::regclass and tgname = '${b}_notify') then
    create trigger "${b}_notify" after insert on ${t.quoted} for each statement execute function ${notifyFunction}();
  end if;
end
$do$;
`;
}

/**
 * Creates the outbox table, its indexes and trigger if they do not exist
 * (idempotent; safe from several processes at once: an advisory lock
 * serialises them). Run it from the service's migrations or at start-up,
 * against the service's database — not Jobplane's. Inside a transaction of
 * the caller's it joins that transaction.
 *
 * ```ts
 * await ensureOutboxTable(sql);          // postgres.js
 * await ensureOutboxTable(pool);         // node-postgres Pool or Client
 * ```
 */
export async function ensureOutboxTable(db: OutboxDatabase, options: OutboxTableOptions = {}): Promise<void> {
  const t = outboxTable(options.table);
  // One simple-protocol script is one implicit transaction: the lock holds until the DDL is done.
  await queryScript(db, `select pg_advisory_xact_lock(hashtext('jobplane_outbox_ddl:${t.name}'));\n${outboxTableSql(options)}`);
}
