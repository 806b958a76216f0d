/**
 * Creating, finding and cancelling jobs. The Postgres row claims the (tenant,
 * Idempotency-Key) pair first; the workflow start that follows is itself
 * idempotent (deterministic workflow id, USE_EXISTING / REJECT_DUPLICATE), so
 * any number of concurrent or retried creates end in exactly one workflow.
 */
import { and, eq, isNotNull, sql, type SQL } from 'drizzle-orm';
import type { Client } from '@temporalio/client';
import { batchRun, findJobContract, jobCatalog, type BatchRunInput, type JobContract } from '../../contracts/index.ts';
import { auditedEffect, type AuditEntry } from '../../db/audit.ts';
import type { Db } from '../../db/client.ts';
import { jobs } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import { startJobWorkflow } from '../../domain/jobs/start.ts';
import { claimJob, markStarted, requestHashOf } from '../../domain/jobs/create.ts';
import { holdDedupeKey, releaseDedupeKey, repointDedupeKey, startedHolder } from '../../domain/jobs/dedupe.ts';
import { untimed, type TimePhase } from '../http/server-timing.ts';
import type { TemporalHealthProbe } from '../../runtime/temporal-health.ts';
import type { TenantCaller } from '../http/auth.ts';
import { assertCreateInScope, assertJobVisible } from '../http/key-scope.ts';
import { checkBatchItemsRef } from './batch-inputs.ts';
import { jobIdPattern } from '../../contracts/ids.ts';
import { newJobId } from '../../runtime/ids.ts';
import { enforceCreateLimits, noteJobStarted } from '../limits/tenant-limits.ts';
import { fieldErrors, ProblemError } from '../http/problems.ts';
import { assertDeliverable } from '../http/destination-check.ts';
import { delaySeconds } from './schemas.ts';
import type { JobRow } from '../../db/schema/index.ts';

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
  /** Within `window` (seconds or `30s`/`5m`/…), creates with the same key answer the first one's job (domain/jobs/dedupe.ts). */
  dedupe?: { key: string; window: number | string };
  /** Receives the job's end event as a signed webhook (SSRF-checked here, before anything is written). */
  callbackUrl?: string;
  /** Set by `POST /v1/jobs/{id}/retry`. */
  retryOf?: string;
  /** Set when a schedule starts the job. */
  scheduleId?: string;
}

export interface CreatedJob {
  row: JobRow;
  /** true: this call created it (201); false: an earlier call with the same key did (200). */
  created: boolean;
  /** Set when the answer is the job an earlier create with the same `dedupe` key made. */
  deduplicated?: boolean;
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
  /** Times the phases for the response's Server-Timing (api/http/server-timing.ts). */
  time?: TimePhase;
}

/**
 * Everything a create is checked for before anything is written or spent:
 * the type (public unless `allowInternal`), the key's scope, the input
 * against the type's schema, a batch's stored list, the callback's host.
 * Returns the contract and the parsed input. Shared by {@link createJob} and
 * debounced creates (debounce.ts).
 */
export async function checkCreateRequest(
  deps: JobServiceDeps,
  caller: TenantCaller,
  req: Pick<CreateJobRequest, 'type' | 'input' | 'labels' | 'callbackUrl'>,
  opts: Pick<CreateJobOptions, 'allowInternal'> = {},
): Promise<{ contract: JobContract; input: unknown }> {
  const contract = opts.allowInternal ? contractFor(req.type) : publicContractFor(req.type);
  // A scoped key creates only what it may see: refused (403) before anything is written or spent.
  assertCreateInScope(caller, req.type, req.labels);
  const parsed = contract.input.safeParse(req.input);
  if (!parsed.success) {
    throw new ProblemError('validation-error', `input does not match the ${req.type} schema`, {
      errors: fieldErrors(parsed.error, 'input'),
    });
  }
  // A batch over a stored list: the list must be this tenant's, of the item type (checked before anything is written).
  if (contract.type === batchRun.type) await checkBatchItemsRef(deps.db, caller, parsed.data as BatchRunInput);
  // The callback gets the subscription URLs' SSRF check: a host that could never be delivered to is a 400 now.
  if (req.callbackUrl) await assertDeliverable(deps.config, req.callbackUrl, 'callbackUrl');
  return { contract, input: parsed.data };
}

export async function createJob(
  deps: JobServiceDeps,
  caller: TenantCaller,
  req: CreateJobRequest,
  idempotencyKey: string | undefined,
  requestId: string,
  opts: CreateJobOptions = {},
): Promise<CreatedJob> {
  const { contract, input } = await checkCreateRequest(deps, caller, req, opts);
  const time = opts.time ?? untimed;
  const requestHash = requestHashOf(req);
  const jobId = newJobId();
  // A create within another's dedupe window answers that job, before it costs a token.
  const dedupe = req.dedupe ? { key: req.dedupe.key, windowSeconds: delaySeconds(req.dedupe.window) } : undefined;
  if (dedupe) {
    const earlier = await time('dedupe', () => dedupedJob(deps.db, caller, dedupe, jobId, idempotencyKey));
    if (earlier) return { row: earlier, created: false, deduplicated: true };
  }
  let claim: Awaited<ReturnType<typeof claimJob>>;
  try {
    claim = await limitAndClaim();
  } catch (err) {
    // Refused (rate, cap, a reused Idempotency-Key) before a row held it: the dedupe key this create took goes
    // back, so the next create in the window may take it.
    if (dedupe) await releaseDedupeKey(deps.db, caller.tenantId, dedupe.key, jobId);
    throw err;
  }
  // A replayed Idempotency-Key answers its own job: the dedupe key follows it there.
  if (dedupe && claim.row.id !== jobId) await repointDedupeKey(deps.db, caller.tenantId, dedupe.key, jobId, claim.row.id);

  let row = claim.row;
  const delayMs = startDelayMs(req);
  if (!row.firstRunId) {
    const runId = await time('start', () => startOrExplain(deps, contract, row, input, delayMs));
    row = await time('record', () => markStarted(deps.db, row, runId, { actorKeyId: caller.keyId, requestId, idempotencyKey: idempotencyKey ?? null }));
    noteJobStarted(deps, caller.tenantId);
  }
  return { row, created: claim.created, ...(delayMs > 0 ? { startAt: new Date(row.createdAt.getTime() + delayMs) } : {}) };

  async function limitAndClaim() {
    // A replay of an accepted key costs nothing; everything else spends a token and must fit under the cap.
    // The key's lookup rides along in the token's statement: one round trip, not two.
    await time('limits', async () => {
      if (!opts.limitsChecked) await enforceCreateLimits(deps, caller, idempotencyKey ? { skipIf: keyUsed(caller, idempotencyKey) } : {});
    });
    // The row claims the (tenant, key) pair; it becomes a job (listed, audited) once its workflow started.
    const claimed = await time('claim', () =>
      claimJob(
        deps.db,
        {
          id: jobId,
          tenantId: caller.tenantId,
          type: req.type,
          requestHash,
          idempotencyKey: idempotencyKey ?? null,
          createdByKeyId: caller.keyId,
          labels: req.labels ?? [],
          priority: req.priority ?? null,
          retryOf: req.retryOf ?? null,
          scheduleId: req.scheduleId ?? null,
          callbackUrl: req.callbackUrl ?? null,
        },
        'idempotency-key',
      ),
    );
    if (!claimed.created) assertSameRequest(claimed.row, idempotencyKey!, requestHash);
    return claimed;
  }
}

/**
 * Matching or history known to be down (by the last probe, at most a few
 * seconds old): 503 at once instead of waiting out the call deadline.
 */
export function failFastIfTemporalDown(deps: Pick<JobServiceDeps, 'temporalHealth'>): void {
  refuseIfUnreachable(deps.temporalHealth?.knownUnreachable());
}

/** 503 `temporal-unavailable` naming the parts of Temporal that do not answer, if any. */
export function refuseIfUnreachable(down: readonly string[] | undefined): void {
  if (down && down.length > 0) {
    throw new ProblemError('temporal-unavailable', `Temporal ${down.join(' and ')} ${down.length > 1 ? 'do' : 'does'} not answer; the job was not started`, {
      retryAfterSeconds: 5,
      unreachable: [...down],
    });
  }
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
  failFastIfTemporalDown(deps);
  try {
    return await deps.client.withDeadline(Date.now() + deps.config.temporalCallTimeoutMs, () => startJobWorkflow(deps, contract, row, input, delayMs));
  } catch (err) {
    throw new ProblemError('temporal-unavailable', `could not start the workflow: ${(err as Error).message}`, { retryAfterSeconds: 5 });
  }
}

/**
 * The started job holding the create's dedupe key, or undefined when this
 * create took the key (for `jobId`) and goes on to make the job. A holder
 * still between claim and start is waited for; one that does not start in
 * time answers 409 `dedupe-pending`. A retry of the holder's own
 * Idempotency-Key goes on too, to finish that job's start.
 */
async function dedupedJob(
  db: Db,
  caller: TenantCaller,
  dedupe: { key: string; windowSeconds: number },
  jobId: string,
  idempotencyKey: string | undefined,
): Promise<JobRow | undefined> {
  const hold = await holdDedupeKey(db, caller.tenantId, dedupe.key, jobId, dedupe.windowSeconds);
  if (hold.taken) return undefined;
  const holder = await startedHolder(db, caller.tenantId, hold.holderId, dedupeHolderWaitMs);
  if (holder) return holder;
  if (idempotencyKey) {
    const [own] = await db.select({ key: jobs.idempotencyKey }).from(jobs).where(and(eq(jobs.id, hold.holderId), eq(jobs.tenantId, caller.tenantId)));
    if (own?.key === idempotencyKey) return undefined;
  }
  throw new ProblemError('dedupe-pending', `the job holding dedupe key "${dedupe.key}" has not started yet`, { retryAfterSeconds: 1, jobId: hold.holderId });
}

/** How long a create waits for the job holding its dedupe key to start (a burst's first create is mid-start). */
const dedupeHolderWaitMs = 5000;

/** True once a create with this key claimed a row (`exists`, for the token take's `skipIf`). */
function keyUsed(caller: TenantCaller, idempotencyKey: string): SQL {
  return sql`exists (select 1 from ${jobs} where ${and(eq(jobs.tenantId, caller.tenantId), eq(jobs.idempotencyKey, idempotencyKey))})`;
}

/** 409 when the key's earlier job was created from a different body. */
function assertSameRequest(existing: JobRow, idempotencyKey: string, requestHash: string): void {
  if (existing.requestHash !== requestHash) {
    throw new ProblemError('idempotency-key-reused', `Idempotency-Key "${idempotencyKey}" was used for job ${existing.id} with a different body`, {
      jobId: existing.id,
    });
  }
}

/**
 * The caller's job, or 404 — also for a malformed id, another tenant's job,
 * a claim whose workflow never started (not a job yet) and a job outside the
 * key's scope (the same body; audited as `scope.refused`), so ids cannot be probed.
 * Every per-job route finds its job here, so every one enforces the scope.
 */
export async function findJob(db: Db, caller: TenantCaller, jobId: string): Promise<JobRow> {
  const [row] = jobIdPattern.test(jobId)
    ? await db.select().from(jobs).where(and(eq(jobs.id, jobId), eq(jobs.tenantId, caller.tenantId), isNotNull(jobs.firstRunId)))
    : [];
  if (!row) throw new ProblemError('not-found', `no job ${jobId}`);
  assertJobVisible(caller, row);
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
