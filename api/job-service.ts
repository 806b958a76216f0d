/**
 * Creating, finding and cancelling jobs. The Postgres row claims the (tenant,
 * Idempotency-Key) pair first; the workflow start that follows is itself
 * idempotent (deterministic workflow id, USE_EXISTING / REJECT_DUPLICATE), so
 * any number of concurrent or retried creates end in exactly one workflow.
 */
import { and, eq, isNotNull, isNull } from 'drizzle-orm';
import type { Client } from '@temporalio/client';
import { batchRun, findJobContract, jobCatalog, type BatchRunInput, type JobContract } from '../contracts/index.ts';
import { auditedEffect, type AuditEntry } from '../db/audit.ts';
import type { Db } from '../db/client.ts';
import { auditEvents, jobs } from '../db/schema/index.ts';
import type { Config } from '../runtime/config.ts';
import { startJobWorkflow } from '../runtime/job-start.ts';
import type { TemporalHealthProbe } from '../runtime/temporal-health.ts';
import { workflowIdFor } from '../runtime/temporal.ts';
import type { TenantCaller } from './auth.ts';
import { checkBatchItemsRef } from './batch-inputs.ts';
import { canonicalJson, sha256Hex } from './canonical-json.ts';
import { jobIdPattern, newJobId } from './ids.ts';
import type { JobRow } from './job-view.ts';
import { enforceCreateLimits, noteJobStarted } from './limits.ts';
import { fieldErrors, ProblemError } from './problems.ts';
import { delaySeconds } from './schemas.ts';

export interface JobServiceDeps {
  db: Db;
  client: Client;
  config: Config;
  /** Which parts of Temporal answer; creates fail fast while one does not. */
  temporalHealth?: TemporalHealthProbe;
  /** The client for visibility calls (see visibility.ts). @default client */
  visibilityClient?: Client;
}

export interface CreateJobRequest {
  type: string;
  input: unknown;
  priority?: number;
  startAt?: string;
  delay?: number | string;
  labels?: string[];
  /** Set by `POST /v1/jobs/{id}/retry`. */
  retryOf?: string;
  /** Set when a schedule starts the job. */
  scheduleId?: string;
}

export interface CreatedJob {
  row: JobRow;
  /** true: this call created it (201); false: an earlier call with the same key did (200). */
  created: boolean;
  startAt?: Date;
}

/** `delay` (seconds or `30s`/`5m`/…) or `startAt` → milliseconds to wait before the job may start. */
export function startDelayMs(req: Pick<CreateJobRequest, 'startAt' | 'delay'>, now = Date.now()): number {
  if (req.startAt) return Math.max(0, Date.parse(req.startAt) - now);
  if (req.delay !== undefined) return Math.round(delaySeconds(req.delay) * 1000);
  return 0;
}

export function contractFor(type: string): JobContract {
  const contract = findJobContract(type);
  if (!contract) {
    throw new ProblemError('validation-error', `unknown job type "${type}"`, {
      errors: [{ path: 'type', message: `must be one of: ${Object.keys(jobCatalog).join(', ')}` }],
    });
  }
  return contract;
}

/** {@link contractFor}, refusing job types the platform starts itself (`POST /v1/jobs`, schedules). */
export function publicContractFor(type: string): JobContract {
  const contract = contractFor(type);
  if (contract.internal) {
    throw new ProblemError('job-type-internal', `${type} jobs cannot be created directly: ${contract.internal}`, {
      errors: [{ path: 'type', message: `${type} is started by the platform: ${contract.internal}` }],
    });
  }
  return contract;
}

/** Options of {@link createJob} for callers inside the platform. */
export interface CreateJobOptions {
  /** Allow an `internal` job type (uploads, operator retries). @default false */
  allowInternal?: boolean;
  /** The caller already spent a create token (uploads check limits before storing the bytes). @default false */
  limitsChecked?: boolean;
}

export async function createJob(
  deps: JobServiceDeps,
  caller: TenantCaller,
  req: CreateJobRequest,
  idempotencyKey: string | undefined,
  requestId: string,
  opts: CreateJobOptions = {},
): Promise<CreatedJob> {
  const contract = opts.allowInternal ? contractFor(req.type) : publicContractFor(req.type);
  const parsed = contract.input.safeParse(req.input);
  if (!parsed.success) {
    throw new ProblemError('validation-error', `input does not match the ${req.type} schema`, {
      errors: fieldErrors(parsed.error, 'input'),
    });
  }
  // A batch over a stored list: the list must be this tenant's, of the item type (checked before anything is written).
  if (contract.type === batchRun.type) await checkBatchItemsRef(deps.db, caller, parsed.data as BatchRunInput);
  const requestHash = sha256Hex(canonicalJson(req));
  // A replay of an accepted key costs nothing; everything else spends a token and must fit under the cap.
  if (!opts.limitsChecked && (!idempotencyKey || !(await keyUsed(deps.db, caller, idempotencyKey)))) await enforceCreateLimits(deps, caller);
  const jobId = newJobId();

  // The row claims the (tenant, key) pair; it becomes a job (listed, audited) once its workflow started.
  const [inserted] = await deps.db
    .insert(jobs)
    .values({
      id: jobId,
      tenantId: caller.tenantId,
      type: req.type,
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
      workflowId: workflowIdFor(caller.tenantId, jobId),
      createdByKeyId: caller.keyId,
      labels: req.labels ?? [],
      priority: req.priority ?? null,
      retryOf: req.retryOf ?? null,
      scheduleId: req.scheduleId ?? null,
    })
    .onConflictDoNothing({ target: [jobs.tenantId, jobs.idempotencyKey] })
    .returning();

  let row = inserted ?? (await replayOf(deps.db, caller, idempotencyKey!, requestHash));
  const delayMs = startDelayMs(req);
  if (!row.firstRunId) {
    const runId = await startOrExplain(deps, contract, row, parsed.data, delayMs);
    row = await markStarted(deps.db, row, runId, { actorKeyId: caller.keyId, requestId, idempotencyKey: idempotencyKey ?? null });
    noteJobStarted(deps, caller.tenantId);
  }
  return { row, created: inserted !== undefined, ...(delayMs > 0 ? { startAt: new Date(row.createdAt.getTime() + delayMs) } : {}) };
}

/**
 * Starts the job's workflow under the call deadline. A start that fails or
 * does not answer in time (history or matching down) answers 503 with
 * Retry-After, leaving the row unstarted: the same Idempotency-Key finishes
 * the start, and the claim sweeper (job-claims.ts) settles rows nobody comes
 * back for, so no workflow runs without its job and no job without its
 * workflow.
 */
async function startOrExplain(deps: JobServiceDeps, contract: JobContract, row: JobRow, input: unknown, delayMs: number): Promise<string> {
  // Matching or history known to be down (by the last probe, at most a few seconds old): say so at once
  // instead of waiting out the deadline.
  const down = deps.temporalHealth?.knownUnreachable();
  if (down && down.length > 0) {
    throw new ProblemError('temporal-unavailable', `Temporal ${down.join(' and ')} ${down.length > 1 ? 'do' : 'does'} not answer; the job was not started`, {
      retryAfterSeconds: 5,
      unreachable: down,
    });
  }
  try {
    return await deps.client.withDeadline(Date.now() + deps.config.temporalCallTimeoutMs, () => startJobWorkflow(deps, contract, row, input, delayMs));
  } catch (err) {
    throw new ProblemError('temporal-unavailable', `could not start the workflow: ${(err as Error).message}`, { retryAfterSeconds: 5 });
  }
}

/** Who started a job, for its `job.create` audit record. */
export interface StartedBy {
  actorKeyId: string | null;
  requestId: string;
  idempotencyKey: string | null;
  /** Set when the claim sweeper, not the request, found the run. */
  adopted?: boolean;
}

/**
 * Records the first run id and the job's `job.create` (or `job.retry`) audit
 * record in one transaction, only if no one else did: the job exists, and is
 * audited, exactly once.
 */
export async function markStarted(db: Db, row: JobRow, runId: string, by: StartedBy): Promise<JobRow> {
  return await db.transaction(async (tx) => {
    const [updated] = await tx
      .update(jobs)
      .set({ firstRunId: runId })
      .where(and(eq(jobs.id, row.id), isNull(jobs.firstRunId)))
      .returning();
    if (!updated) {
      const [current] = await tx.select().from(jobs).where(eq(jobs.id, row.id));
      return current ?? { ...row, firstRunId: runId };
    }
    await tx.insert(auditEvents).values({
      tenantId: row.tenantId,
      actorKeyId: by.actorKeyId,
      action: row.retryOf ? 'job.retry' : 'job.create',
      target: row.id,
      requestId: by.requestId,
      outcome: 'succeeded',
      detail: {
        type: row.type,
        idempotencyKey: by.idempotencyKey,
        ...(row.retryOf ? { retryOf: row.retryOf } : {}),
        ...(by.adopted ? { adopted: true } : {}),
      },
    });
    return updated;
  });
}

async function keyUsed(db: Db, caller: TenantCaller, idempotencyKey: string): Promise<boolean> {
  const [row] = await db
    .select({ id: jobs.id })
    .from(jobs)
    .where(and(eq(jobs.tenantId, caller.tenantId), eq(jobs.idempotencyKey, idempotencyKey)));
  return row !== undefined;
}

/** The earlier job of the same key; 409 when the key was used for a different body. */
async function replayOf(db: Db, caller: TenantCaller, idempotencyKey: string, requestHash: string): Promise<JobRow> {
  const [existing] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.tenantId, caller.tenantId), eq(jobs.idempotencyKey, idempotencyKey)));
  if (!existing) throw new Error('idempotency row vanished between insert and select');
  if (existing.requestHash !== requestHash) {
    throw new ProblemError('idempotency-key-reused', `Idempotency-Key "${idempotencyKey}" was used for job ${existing.id} with a different body`, {
      jobId: existing.id,
    });
  }
  return existing;
}

/**
 * The caller's job, or 404 — also for a malformed id, another tenant's job
 * and a claim whose workflow never started (not a job yet), so ids cannot be probed.
 */
export async function findJob(db: Db, caller: TenantCaller, jobId: string): Promise<JobRow> {
  const [row] = jobIdPattern.test(jobId)
    ? await db.select().from(jobs).where(and(eq(jobs.id, jobId), eq(jobs.tenantId, caller.tenantId), isNotNull(jobs.firstRunId)))
    : [];
  if (!row) throw new ProblemError('not-found', `no job ${jobId}`);
  return row;
}

/** Throws 409 unless the job's workflow is still running. */
export async function assertRunning(client: Client, row: JobRow): Promise<void> {
  if (!row.firstRunId) return;
  const desc = await client.workflow.getHandle(row.workflowId).describe();
  if (desc.status.name !== 'RUNNING') {
    throw new ProblemError('job-already-finished', `job ${row.id} is ${desc.status.name.toLowerCase()}`);
  }
}

/** The audit record of what `caller` does to `target` (db/audit.ts writes it). */
export function auditEntry(caller: TenantCaller, action: string, target: string, requestId: string, detail?: Record<string, unknown>): AuditEntry {
  return { tenantId: caller.tenantId, actorKeyId: caller.keyId, action, target, requestId, ...(detail ? { detail } : {}) };
}

export async function cancelJob(deps: JobServiceDeps, caller: TenantCaller, row: JobRow, requestId: string): Promise<void> {
  await assertRunning(deps.client, row);
  await auditedEffect(deps.db, auditEntry(caller, 'job.cancel', row.id, requestId), () => deps.client.workflow.getHandle(row.workflowId).cancel());
}
