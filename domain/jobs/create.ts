/**
 * How a job comes to exist: the one path `POST /v1/jobs` (and uploads,
 * retries, schedules) and the workers' document events share.
 *
 * 1. **Claim** a jobs row (`claimJob`): it reserves the id, or the
 *    (tenant, Idempotency-Key) pair, before anything runs. A claim whose
 *    workflow never starts is not a job: it is not listed, and the claim
 *    sweeper (api/jobs/claims.ts) adopts or removes it.
 * 2. **Start** its workflow (domain/jobs/start.ts): idempotent by workflow id.
 * 3. **Record the start** (`markStarted`): the first run id and the job's
 *    `job.create` audit record in one transaction, only if no one else did,
 *    so a job exists, and is audited, exactly once however many callers race
 *    or retry.
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import { auditFromCte } from '../../db/audit.ts';
import type { Db } from '../../db/client.ts';
import { jobs, type JobRow } from '../../db/schema/index.ts';
import { workflowIdFor } from '../../contracts/workflow-ids.ts';
import { canonicalJson, sha256Hex } from '../../runtime/canonical-json.ts';

export interface JobClaim {
  id: string;
  tenantId: string;
  type: string;
  /** What makes two creates "the same request": {@link requestHashOf} of it. */
  requestHash: string;
  createdByKeyId: string | null;
  labels?: string[];
  idempotencyKey?: string | null;
  priority?: number | null;
  retryOf?: string | null;
  scheduleId?: string | null;
  /** Where the job's end event goes (besides the tenant's subscriptions). */
  callbackUrl?: string | null;
}

/** Key order does not matter: equal bodies hash equal. */
export const requestHashOf = (request: unknown) => sha256Hex(canonicalJson(request));

/**
 * Inserts the claim, or finds the row that holds its id (`unique: 'id'`, for
 * ids derived from a key) or its tenant's Idempotency-Key (`unique:
 * 'idempotency-key'`). `created` says which.
 */
export async function claimJob(db: Db, claim: JobClaim, unique: 'id' | 'idempotency-key'): Promise<{ row: JobRow; created: boolean }> {
  const values = {
    id: claim.id,
    tenantId: claim.tenantId,
    type: claim.type,
    idempotencyKey: claim.idempotencyKey ?? null,
    requestHash: claim.requestHash,
    workflowId: workflowIdFor(claim.tenantId, claim.id),
    createdByKeyId: claim.createdByKeyId,
    labels: claim.labels ?? [],
    priority: claim.priority ?? null,
    retryOf: claim.retryOf ?? null,
    scheduleId: claim.scheduleId ?? null,
    callbackUrl: claim.callbackUrl ?? null,
  };
  const target = unique === 'id' ? [jobs.id] : [jobs.tenantId, jobs.idempotencyKey];
  const [inserted] = await db.insert(jobs).values(values).onConflictDoNothing({ target }).returning();
  if (inserted) return { row: inserted, created: true };
  const holder =
    unique === 'id'
      ? eq(jobs.id, claim.id)
      : and(eq(jobs.tenantId, claim.tenantId), eq(jobs.idempotencyKey, claim.idempotencyKey!));
  const [existing] = await db.select().from(jobs).where(holder);
  if (!existing) throw new Error(`job claim ${claim.id} vanished between insert and select`);
  return { row: existing, created: false };
}

/** Who started a job, for its `job.create` audit record. */
export interface StartedBy {
  actorKeyId: string | null;
  requestId: string | null;
  idempotencyKey: string | null;
  /** Set when the claim sweeper, not the request, found the run. */
  adopted?: boolean;
  /** What else the record should say (the event that emitted the job, say). */
  detail?: Record<string, unknown>;
}

/**
 * Records the first run id and the job's `job.create` (or `job.retry`) audit
 * record in one transaction, only if no one else did: the job exists, and is
 * audited, exactly once.
 */
export async function markStarted(db: Db, row: JobRow, runId: string, by: StartedBy): Promise<JobRow> {
  const audit = auditFromCte('started', {
    tenantId: row.tenantId,
    actorKeyId: by.actorKeyId,
    action: row.retryOf ? 'job.retry' : 'job.create',
    target: row.id,
    requestId: by.requestId,
    detail: {
      type: row.type,
      idempotencyKey: by.idempotencyKey,
      ...(row.retryOf ? { retryOf: row.retryOf } : {}),
      ...(by.adopted ? { adopted: true } : {}),
      ...by.detail,
    },
  });
  // One statement, so the update and its audit record commit together or not
  // at all: a create's last round trip to Postgres, not four (BEGIN, UPDATE,
  // INSERT, COMMIT). Only the caller that set the run id writes the record.
  const [result] = await db.execute<{ started: number }>(sql`
    with started as (
      update ${jobs} set first_run_id = ${runId} where ${and(eq(jobs.id, row.id), isNull(jobs.firstRunId))} returning 1
    ), audit as (${audit})
    select count(*)::int as started from started`);
  if (result?.started === 1) return { ...row, firstRunId: runId };
  const [current] = await db.select().from(jobs).where(eq(jobs.id, row.id));
  return current ?? { ...row, firstRunId: runId };
}
