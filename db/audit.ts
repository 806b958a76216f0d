/**
 * The audit log's two ways of writing, so an effect and its record never
 * diverge:
 *
 * - a change that is itself in Postgres writes its record in the same
 *   transaction (`recordAudit(tx, …)`): both or neither;
 * - a change made elsewhere (a Temporal signal, cancel, reset, terminate, a
 *   schedule) goes through {@link auditedEffect}: the record is written
 *   first as `pending`, then the effect runs, then the record says
 *   `succeeded` or `failed`. If Postgres is away the effect is not tried
 *   (503); if the process dies or Postgres goes away after the effect, the
 *   record still says it was attempted (`pending`), never nothing.
 *
 * Text fields are stored safely whatever they hold (db/text.ts).
 */
import { eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from './client.ts';
import { auditEvents } from './schema/index.ts';
import { storableText } from './text.ts';

/** A transaction or the database itself: anything drizzle can insert through. */
export type DbOrTx = Pick<Db, 'insert' | 'update'>;

export interface AuditEntry {
  tenantId: string | null;
  actorKeyId: string | null;
  action: string;
  target: string | null;
  requestId: string | null;
  detail?: Record<string, unknown>;
}

export type AuditOutcome = (typeof auditEvents.$inferInsert)['outcome'];

/** Strings anywhere in a JSON value, made storable (iterative: the value may be deep). */
function storableDetail(detail: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!detail) return undefined;
  return JSON.parse(JSON.stringify(detail), (_key, value: unknown) => (typeof value === 'string' ? storableText(value) : value)) as Record<string, unknown>;
}

function row(entry: AuditEntry, outcome: AuditOutcome) {
  return {
    tenantId: entry.tenantId,
    actorKeyId: entry.actorKeyId,
    action: storableText(entry.action),
    target: storableText(entry.target),
    requestId: entry.requestId,
    outcome,
    detail: storableDetail(entry.detail),
  };
}

/**
 * An audit record as the body of a CTE: `insert … select … from <source>`,
 * one record per row the CTE `source` returned. The change and its record go
 * in one statement (one round trip, one commit), and the record is written
 * only if the change touched a row.
 */
export function auditFromCte(source: string, entry: AuditEntry, outcome: AuditOutcome = 'succeeded'): SQL {
  const r = row(entry, outcome);
  const detail = r.detail === undefined ? null : JSON.stringify(r.detail);
  return sql`insert into ${auditEvents} (tenant_id, actor_key_id, action, target, request_id, outcome, detail)
    select ${r.tenantId}, ${r.actorKeyId}, ${r.action}, ${r.target}, ${r.requestId}, ${r.outcome}, ${detail}::jsonb from ${sql.identifier(source)}`;
}

/** One audit record, through `db` or inside the caller's transaction `tx`. */
export async function recordAudit(dbOrTx: DbOrTx, entry: AuditEntry, outcome: AuditOutcome = 'succeeded'): Promise<void> {
  await dbOrTx.insert(auditEvents).values(row(entry, outcome));
}

/**
 * Runs an effect outside Postgres with its audit record around it (see the
 * module comment). `detailOf` adds what only the effect's result knows (the
 * new run id of a reset).
 */
export async function auditedEffect<T>(db: Db, entry: AuditEntry, effect: () => Promise<T>, detailOf?: (result: T) => Record<string, unknown>): Promise<T> {
  const [pending] = await db.insert(auditEvents).values(row(entry, 'pending')).returning({ id: auditEvents.id });
  const settle = async (outcome: AuditOutcome, detail?: Record<string, unknown>) => {
    await db
      .update(auditEvents)
      .set({ outcome, ...(detail ? { detail: storableDetail({ ...entry.detail, ...detail }) } : {}) })
      .where(eq(auditEvents.id, pending!.id));
  };
  let result: T;
  try {
    result = await effect();
  } catch (err) {
    // The record says it failed if Postgres lets it; otherwise it stays `pending`: attempted, outcome unknown.
    await settle('failed', { error: (err as Error).message }).catch(() => {});
    throw err;
  }
  // The effect happened: answer it even if the record cannot be settled now (it then stays `pending`).
  await settle('succeeded', detailOf?.(result)).catch(() => {});
  return result;
}
