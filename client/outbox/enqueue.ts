/**
 * `enqueueJob()`: records a job request in the outbox table inside the
 * caller's transaction, so the job exists exactly when the business change
 * beside it commits. The relay sends it to Jobplane afterwards.
 */
import type { JobTypeName } from '../types.ts';
import { assertInTransaction, queryRows, type OutboxDatabase } from './database.ts';
import { parseOutboxJobRequest, type OutboxJobRequest } from './request.ts';
import { outboxTable, type OutboxTableOptions } from './table.ts';

export interface EnqueueJobOptions extends OutboxTableOptions {
  /**
   * Refuse (with `OutboxTransactionRequiredError`) a connection that is not
   * inside a transaction. A postgres.js `sql.begin()` transaction is
   * recognised at no cost; other connections cost one savepoint round trip.
   * Turn it off only for a connection you know is in one.
   * @default true
   */
  requireTransaction?: boolean;
}

/** The outbox row `enqueueJob` inserted. */
export interface EnqueuedJob {
  /** The row's id (a bigint, as a string): its place in relay order. */
  id: string;
  /** The uuid the relay sends as `Idempotency-Key`: every send of this row returns the same job. */
  idempotencyKey: string;
}

/**
 * Inserts a job request into the outbox inside the caller's transaction and
 * returns the row. Commit, and the relay creates exactly one job from it;
 * roll back, and there is no row and no job.
 *
 * ```ts
 * // postgres.js
 * await sql.begin(async (tx) => {
 *   await tx`insert into orders ${tx(order)}`;
 *   await enqueueJob(tx, { type: 'webhook.deliver', input: { url, payload: order } });
 * });
 * // node-postgres
 * const client = await pool.connect();
 * await client.query('BEGIN');
 * await client.query('insert into orders (id) values ($1)', [order.id]);
 * await enqueueJob(client, { type: 'noop', input: {} });
 * await client.query('COMMIT');
 * ```
 *
 * A `delay` becomes `startAt` = the transaction's start + delay, so a relay
 * that sends the row late does not push the start back.
 *
 * @throws OutboxValidationError before any statement runs, when the request is not valid.
 * @throws OutboxTransactionRequiredError when `db` is not inside a transaction.
 */
export async function enqueueJob<T extends JobTypeName>(db: OutboxDatabase, request: OutboxJobRequest<T>, options: EnqueueJobOptions = {}): Promise<EnqueuedJob> {
  const values = parseOutboxJobRequest(request);
  const table = outboxTable(options.table);
  if (options.requireTransaction ?? true) await assertInTransaction(db);
  // One JSON parameter, unpacked in SQL: both drivers send it the same way, as text.
  const rows = await queryRows(
    db,
    `insert into ${table.quoted} (job_type, input, labels, priority, start_at)
     select r->>'type', r->'input', array(select jsonb_array_elements_text(r->'labels')), (r->>'priority')::smallint,
            coalesce((r->>'startAt')::timestamptz, now() + make_interval(secs => (r->>'delaySeconds')::float8))
       from (select $1::text::jsonb as r) as request
     returning id::text as id, idempotency_key::text as idempotency_key`,
    [JSON.stringify(values)],
  );
  const row = rows[0]!;
  return { id: String(row.id), idempotencyKey: String(row.idempotency_key) };
}
