/**
 * Every statement the relay runs against the outbox table. Each is one
 * autocommit statement: a claim locks its rows (FOR UPDATE SKIP LOCKED)
 * only for as long as it takes to stamp a lease on them, and no
 * transaction is open while the relay waits on the Jobplane API.
 */
import type { Sql } from 'postgres';
import { outboxTable, type OutboxTable } from '../table.ts';

/** A claimed row, with what the relay sends. */
export interface ClaimedRow {
  id: string;
  idempotencyKey: string;
  type: string;
  input: unknown;
  labels: string[];
  priority: number | null;
  startAt: Date | null;
  /** Sends tried, this one included. */
  attempts: number;
  createdAt: Date;
}

/** What the gauges show: the backlog and how far behind the relay is. */
export interface OutboxStats {
  /** Rows neither relayed nor failed. */
  pending: number;
  /** Age of the oldest pending row in seconds; 0 when none. */
  lagSeconds: number;
  /** Rows refused for good. */
  failed: number;
}

/** Thrown at start-up when the outbox table is missing (the service has not run ensureOutboxTable or outbox.sql). */
export class OutboxTableMissingError extends Error {
  override name = 'OutboxTableMissingError';
}

export interface OutboxStore {
  readonly table: OutboxTable;
  /** @throws OutboxTableMissingError when the table does not exist. */
  assertTableExists(): Promise<void>;
  /** Leases up to `limit` due rows to `leaseToken` for `leaseMs`, oldest first. */
  claim(limit: number, leaseMs: number, leaseToken: string): Promise<ClaimedRow[]>;
  /** Records the job a row became; true if this call settled it (false: already relayed). */
  markRelayed(id: string, jobId: string): Promise<boolean>;
  /** Releases a row to be sent again after `delayMs`; a no-op if the lease is no longer `leaseToken`'s. */
  scheduleRetry(id: string, leaseToken: string, delayMs: number, error: string): Promise<boolean>;
  /** Ends a row refused for good; a no-op if the lease is no longer `leaseToken`'s. */
  markFailed(id: string, leaseToken: string, error: string): Promise<boolean>;
  /** Milliseconds until a row may next be claimed (a retry due, a lease running out); undefined when none waits. */
  msUntilNextDue(): Promise<number | undefined>;
  stats(): Promise<OutboxStats>;
  /** Deletes up to `limit` rows relayed more than `hours` ago; returns how many. */
  purgeRelayed(hours: number, limit: number): Promise<number>;
}

export function createOutboxStore(sql: Sql, tableName: string): OutboxStore {
  const table = outboxTable(tableName);
  const t = table.quoted;
  const pending = 'relayed_at is null and failed_at is null';
  return {
    table,
    async assertTableExists() {
      const [row] = await sql.unsafe(`select to_regclass($1) is not null as present`, [table.quoted]);
      if (!row?.present) {
        throw new OutboxTableMissingError(`outbox table ${table.name} does not exist in OUTBOX_DATABASE_URL: create it with ensureOutboxTable() or client/outbox/outbox.sql`);
      }
    },
    async claim(limit, leaseMs, leaseToken) {
      const rows = await sql.unsafe(
        `update ${t} as o
            set locked_until = now() + make_interval(secs => $2::float8 / 1000), lease_token = $3::uuid, attempts = o.attempts + 1
          where o.id in (
            select id from ${t}
             where ${pending} and next_attempt_at <= now() and (locked_until is null or locked_until <= now())
             order by id
             limit $1
               for update skip locked)
        returning o.id::text as id, o.idempotency_key::text as idempotency_key, o.job_type, o.input::text as input_json,
                  o.labels, o.priority, o.start_at, o.attempts, o.created_at`,
        [limit, leaseMs, leaseToken],
      );
      return rows
        .map(
          (r): ClaimedRow => ({
            id: r.id as string,
            idempotencyKey: r.idempotency_key as string,
            type: r.job_type as string,
            input: JSON.parse(r.input_json as string) as unknown,
            labels: r.labels as string[],
            priority: (r.priority as number | null) ?? null,
            startAt: (r.start_at as Date | null) ?? null,
            attempts: r.attempts as number,
            createdAt: r.created_at as Date,
          }),
        )
        .sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    },
    async markRelayed(id, jobId) {
      // Whoever holds the lease now: the job exists, and any send of this row names the same one.
      const rows = await sql.unsafe(
        `update ${t} set relayed_at = now(), job_id = $2, locked_until = null, lease_token = null where id = $1 and ${pending} returning id`,
        [id, jobId],
      );
      return rows.length === 1;
    },
    async scheduleRetry(id, leaseToken, delayMs, error) {
      const rows = await sql.unsafe(
        `update ${t}
            set next_attempt_at = now() + make_interval(secs => $3::float8 / 1000), locked_until = null, lease_token = null, last_error = $4
          where id = $1 and lease_token = $2::uuid and ${pending} returning id`,
        [id, leaseToken, delayMs, error],
      );
      return rows.length === 1;
    },
    async markFailed(id, leaseToken, error) {
      const rows = await sql.unsafe(
        `update ${t} set failed_at = now(), locked_until = null, lease_token = null, last_error = $3 where id = $1 and lease_token = $2::uuid and ${pending} returning id`,
        [id, leaseToken, error],
      );
      return rows.length === 1;
    },
    async msUntilNextDue() {
      const [row] = await sql.unsafe(
        `select extract(epoch from min(greatest(next_attempt_at, coalesce(locked_until, next_attempt_at))) - now()) * 1000 as ms from ${t} where ${pending}`,
      );
      const ms = row?.ms;
      return ms === null || ms === undefined ? undefined : Math.max(0, Math.ceil(Number(ms)));
    },
    async stats() {
      const [row] = await sql.unsafe(
        `select (select count(*) from ${t} where ${pending})::int as pending,
                coalesce((select extract(epoch from now() - min(created_at)) from ${t} where ${pending}), 0)::float8 as lag_seconds,
                (select count(*) from ${t} where failed_at is not null)::int as failed`,
      );
      return { pending: Number(row!.pending), lagSeconds: Math.max(0, Number(row!.lag_seconds)), failed: Number(row!.failed) };
    },
    async purgeRelayed(hours, limit) {
      const rows = await sql.unsafe(
        `delete from ${t} where id in (select id from ${t} where relayed_at < now() - make_interval(hours => $1::int) order by relayed_at limit $2) returning id`,
        [hours, limit],
      );
      return rows.length;
    },
  };
}
