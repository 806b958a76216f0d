/**
 * Settles job claims nobody came back for. A create first claims a `jobs`
 * row, then starts the workflow, then marks the row started (and audits it).
 * When the start fails or is cut off (503, a crash of the API between the
 * steps), the row stays unstarted: not listed, 404 by id, not audited. The
 * same Idempotency-Key finishes it; this sweeper settles the rest, so no
 * workflow ever runs without its job and no claim lingers as a phantom job:
 *
 * - the workflow exists (the start reached Temporal although the request
 *   never heard back): a claim with an Idempotency-Key is adopted (marked
 *   started and audited as `job.create` with `adopted: true`), since a retry
 *   of that key would do the same; a claim without a key is a job its caller
 *   was told failed and cannot refer to, so its run is terminated and the row
 *   deleted (`job.abandoned` in the audit log);
 * - no workflow: a claim without a key is deleted; one with a key stays for
 *   `keyedClaimTtlMs` (a day), so a retry with it still finishes the start,
 *   and is deleted after (nothing ran; a later retry starts afresh).
 *
 * Runs in every API process (`api/main.ts`); concurrent sweepers are safe:
 * every write is conditional on the row still being unstarted, and nothing
 * holds a lock or transaction while Temporal is asked.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { jobs } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import { markStarted } from '../../domain/jobs/create.ts';
import { sweepExpiredDedupeKeys } from '../../domain/jobs/dedupe.ts';
import type { JobRow } from '../../db/schema/index.ts';
import { recordAudit } from '../../db/audit.ts';

export interface SweepResult {
  adopted: number;
  terminated: number;
  deleted: number;
}

export interface SweepOptions {
  /** Claims younger than this are left alone: their create may still be running. */
  olderThanMs: number;
  /** @default 100 */
  limit?: number;
  /** A keyed claim with no workflow is kept this long for its retry. @default one day */
  keyedClaimTtlMs?: number;
}

export async function sweepJobClaims(deps: { db: Db; client: Client; config: Pick<Config, 'temporalCallTimeoutMs'> }, opts: SweepOptions): Promise<SweepResult> {
  const result: SweepResult = { adopted: 0, terminated: 0, deleted: 0 };
  const keyedTtlMs = opts.keyedClaimTtlMs ?? 86_400_000;
  // In no fixed order: keyed claims waiting for their retry stay for a day and must not keep newer ones from a turn.
  const claims = await deps.db
    .select()
    .from(jobs)
    .where(and(isNull(jobs.firstRunId), lt(jobs.createdAt, sql`now() - make_interval(secs => ${opts.olderThanMs / 1000})`)))
    .orderBy(sql`random()`)
    .limit(opts.limit ?? 100);
  for (const claim of claims) {
    const runId = await firstRunIdOf(deps, claim);
    if (runId && claim.idempotencyKey) {
      await markStarted(deps.db, claim, runId, { actorKeyId: claim.createdByKeyId, requestId: 'claim-sweeper', idempotencyKey: claim.idempotencyKey, adopted: true });
      result.adopted++;
    } else if (runId) {
      await deps.client.workflow
        .getHandle(claim.workflowId)
        .terminate('jobplane: its create answered an error and had no Idempotency-Key, so no one can refer to this job')
        .catch((err: unknown) => {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        });
      if (await deleteClaim(deps.db, claim, 'terminated')) result.terminated++;
    } else if (!claim.idempotencyKey || Date.now() - claim.createdAt.getTime() > keyedTtlMs) {
      if (await deleteClaim(deps.db, claim, undefined)) result.deleted++;
    }
  }
  return result;
}

/** The first run id of the claim's workflow, or undefined when Temporal has none. */
async function firstRunIdOf(deps: { client: Client; config: Pick<Config, 'temporalCallTimeoutMs'> }, claim: JobRow): Promise<string | undefined> {
  try {
    const desc = await deps.client.withDeadline(Date.now() + deps.config.temporalCallTimeoutMs, () => deps.client.workflow.getHandle(claim.workflowId).describe());
    return desc.raw.workflowExecutionInfo?.firstRunId || desc.runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Deletes a still-unstarted claim; with a terminated run, the audit says so in the same transaction. */
async function deleteClaim(db: Db, claim: JobRow, runOutcome: 'terminated' | undefined): Promise<boolean> {
  return await db.transaction(async (tx) => {
    const deleted = await tx
      .delete(jobs)
      .where(and(eq(jobs.id, claim.id), isNull(jobs.firstRunId)))
      .returning({ id: jobs.id });
    if (deleted.length === 0) return false;
    if (runOutcome) {
      await recordAudit(tx, {
        tenantId: claim.tenantId,
        actorKeyId: null,
        action: 'job.abandoned',
        target: claim.id,
        requestId: 'claim-sweeper',
        detail: { type: claim.type, workflowId: claim.workflowId, run: runOutcome },
      });
    }
    return true;
  });
}

/** Sweeps every `intervalMs` until stopped; errors (Temporal or Postgres down) are logged and retried next time. */
export function startClaimSweeper(
  deps: { db: Db; client: Client; config: Pick<Config, 'temporalCallTimeoutMs'>; log: { info(o: object, m: string): void; warn(o: object, m: string): void } },
  intervalMs = 15_000,
): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepJobClaims(deps, { olderThanMs: Math.max(30_000, deps.config.temporalCallTimeoutMs * 5) })
      .then(async (r) => {
        if (r.adopted + r.terminated + r.deleted > 0) deps.log.info({ ...r }, 'job claims settled');
        // Dedupe keys whose window ended an hour ago are taken over in place anyway; this keeps the table small.
        await sweepExpiredDedupeKeys(deps.db);
      })
      .catch((err: unknown) => deps.log.warn({ err }, 'job claim sweep failed; retrying at the next interval'))
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
