/**
 * Creating and cancelling jobs. The Postgres row claims the (tenant,
 * Idempotency-Key) pair first; the workflow start that follows is itself
 * idempotent (deterministic workflow id, USE_EXISTING / REJECT_DUPLICATE), so
 * any number of concurrent or retried creates end in exactly one workflow.
 */
import { and, eq, isNull } from 'drizzle-orm';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { findJobContract, jobCatalog, type JobContract } from '../contracts/index.ts';
import type { Db } from '../db/client.ts';
import { auditEvents, jobs } from '../db/schema/index.ts';
import type { Config } from '../runtime/config.ts';
import { searchAttributes } from '../runtime/search-attributes.ts';
import { taskQueueName, workflowIdFor } from '../runtime/temporal.ts';
import type { Caller } from './auth.ts';
import { canonicalJson, sha256Hex } from './canonical-json.ts';
import { newJobId } from './ids.ts';
import { fieldErrors, ProblemError } from './problems.ts';

export interface JobServiceDeps {
  db: Db;
  client: Client;
  config: Config;
}

export interface CreateJobRequest {
  type: string;
  input: unknown;
}

type JobRow = typeof jobs.$inferSelect;

function contractFor(type: string): JobContract {
  const contract = findJobContract(type);
  if (!contract) {
    throw new ProblemError('validation-error', `unknown job type "${type}"`, {
      errors: [{ path: 'type', message: `must be one of: ${Object.keys(jobCatalog).join(', ')}` }],
    });
  }
  return contract;
}

/** Returns the job row and whether this call created it (201) or found an earlier one with the same key (200). */
export async function createJob(
  deps: JobServiceDeps,
  caller: Caller,
  req: CreateJobRequest,
  idempotencyKey: string | undefined,
  requestId: string,
): Promise<{ row: JobRow; created: boolean }> {
  const contract = contractFor(req.type);
  const parsed = contract.input.safeParse(req.input);
  if (!parsed.success) {
    throw new ProblemError('validation-error', `input does not match the ${req.type} schema`, {
      errors: fieldErrors(parsed.error, 'input'),
    });
  }
  const requestHash = sha256Hex(canonicalJson({ type: req.type, input: req.input }));
  const jobId = newJobId();

  const inserted = await deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(jobs)
      .values({
        id: jobId,
        tenantId: caller.tenantId,
        type: req.type,
        idempotencyKey: idempotencyKey ?? null,
        requestHash,
        workflowId: workflowIdFor(caller.tenantId, jobId),
        createdByKeyId: caller.keyId,
      })
      .onConflictDoNothing({ target: [jobs.tenantId, jobs.idempotencyKey] })
      .returning();
    if (row) {
      await tx.insert(auditEvents).values({
        tenantId: caller.tenantId,
        actorKeyId: caller.keyId,
        action: 'job.create',
        target: row.id,
        requestId,
        outcome: 'succeeded',
        detail: { type: req.type, idempotencyKey: idempotencyKey ?? null },
      });
    }
    return row;
  });

  let row = inserted;
  if (!row) {
    const [existing] = await deps.db
      .select()
      .from(jobs)
      .where(and(eq(jobs.tenantId, caller.tenantId), eq(jobs.idempotencyKey, idempotencyKey!)));
    if (!existing) throw new Error('idempotency row vanished between insert and select');
    if (existing.requestHash !== requestHash) {
      throw new ProblemError('idempotency-key-reused', `Idempotency-Key "${idempotencyKey}" was used for job ${existing.id} with a different body`, {
        jobId: existing.id,
      });
    }
    row = existing;
  }

  if (!row.firstRunId) {
    try {
      row = await startWorkflow(deps, contract, row, parsed.data);
    } catch (err) {
      // Without a key the caller cannot retry this exact job: forget it so no orphan row stays behind.
      if (inserted && !idempotencyKey) await deps.db.delete(jobs).where(eq(jobs.id, row.id));
      throw new ProblemError('temporal-unavailable', `could not start the workflow: ${(err as Error).message}`);
    }
  }
  return { row, created: inserted !== undefined };
}

async function startWorkflow(deps: JobServiceDeps, contract: JobContract, row: JobRow, input: unknown): Promise<JobRow> {
  const meta = { tenantId: row.tenantId, jobId: row.id };
  let runId: string;
  try {
    const handle = await deps.client.workflow.start(contract.workflowType, {
      taskQueue: taskQueueName(deps.config, contract.taskQueue),
      workflowId: row.workflowId,
      args: [{ ...meta, input }],
      // Concurrent starts of one job share the open run; a closed run is never started again.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowExecutionTimeout: contract.executionTimeout,
      typedSearchAttributes: [
        { key: searchAttributes.tenantId, value: row.tenantId },
        { key: searchAttributes.jobType, value: row.type },
        { key: searchAttributes.jobId, value: row.id },
      ],
      staticSummary: contract.summary(input, meta),
      staticDetails: `**${contract.type}** job \`${row.id}\` of tenant \`${row.tenantId}\`\n\nAPI: ${deps.config.publicUrl}/v1/jobs/${row.id}`,
    });
    runId = handle.firstExecutionRunId;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const desc = await deps.client.workflow.getHandle(row.workflowId).describe();
    runId = desc.raw.workflowExecutionInfo?.firstRunId || desc.runId;
  }
  const [updated] = await deps.db
    .update(jobs)
    .set({ firstRunId: runId })
    .where(and(eq(jobs.id, row.id), isNull(jobs.firstRunId)))
    .returning();
  return updated ?? { ...row, firstRunId: runId };
}

/** The caller's job, or 404 — also for another tenant's job, so ids cannot be probed. */
export async function findJob(db: Db, caller: Caller, jobId: string): Promise<JobRow> {
  const [row] = await db
    .select()
    .from(jobs)
    .where(and(eq(jobs.id, jobId), eq(jobs.tenantId, caller.tenantId)));
  if (!row) throw new ProblemError('not-found', `no job ${jobId}`);
  return row;
}

export async function cancelJob(deps: JobServiceDeps, caller: Caller, row: JobRow, requestId: string): Promise<void> {
  const handle = deps.client.workflow.getHandle(row.workflowId);
  const desc = row.firstRunId ? await handle.describe() : undefined;
  if (desc && desc.status.name !== 'RUNNING') {
    throw new ProblemError('job-already-finished', `job ${row.id} is ${desc.status.name.toLowerCase()}`);
  }
  await handle.cancel();
  await deps.db.insert(auditEvents).values({
    tenantId: caller.tenantId,
    actorKeyId: caller.keyId,
    action: 'job.cancel',
    target: row.id,
    requestId,
    outcome: 'succeeded',
  });
}
