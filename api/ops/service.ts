/**
 * What on-call does to jobs: reset a run (one, or a batch on the server),
 * terminate it, retry it as a new job. Every change is tenant-scoped (another
 * tenant's job or batch answers 404) and written to the audit log.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
// The proto package is CommonJS: Node's ESM loader sees only its default export.
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import type { z } from 'zod';
import type { TenantCaller } from '../http/auth.ts';
import { newId } from '../../runtime/ids.ts';
import { diagnoseRun, queryLiteral, type OpsDeps } from './diagnosis.ts';
import { assertRunning, auditEntry, contractFor, createJob, type JobServiceDeps } from '../jobs/service.ts';
import { describeJob, type JobView } from '../jobs/view.ts';
import { historyOf, resetEventOf, startInputOf, temporalProblem, type ResetTarget } from './history.ts';
import { batchJobIdPattern, type Batch, type BatchStarted, type ResetResult } from './schemas.ts';
import { auditedEffect } from '../../db/audit.ts';
import { visibilityOf } from '../limits/visibility.ts';
import { ProblemError } from '../http/problems.ts';
import { webUiLink } from '../../runtime/temporal.ts';
import type { JobRow } from '../../db/schema/index.ts';

export type OpsServiceDeps = JobServiceDeps & OpsDeps;

/** Signals and updates received after the reset point are replayed into the new run (the temporal CLI's default). */
const reapplyAll = proto.temporal.api.enums.v1.ResetReapplyType.RESET_REAPPLY_TYPE_ALL_ELIGIBLE;
const BatchState = proto.temporal.api.enums.v1.BatchOperationState;

async function currentRun(handle: WorkflowHandle, jobId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ProblemError('not-found', `job ${jobId} has no run any more (older than the retention)`);
    temporalProblem(err, `job ${jobId} has no run`);
  }
}

/** Who asked, in the reason Temporal records (shown in the Web UI next to the reset). */
const recordedReason = (caller: TenantCaller, reason: string) => `${reason} (jobplane key ${caller.keyId})`;

/**
 * Resets the job's current run to a workflow task (see `resetEventOf`): the
 * server terminates that run and starts a new one from the chosen point, and
 * everything after it runs again — activities are idempotent, so effects
 * already applied are not applied twice.
 */
export async function resetJob(
  deps: OpsServiceDeps,
  caller: TenantCaller,
  row: JobRow,
  body: { to: ResetTarget; reason: string },
  requestId: string,
): Promise<z.infer<typeof ResetResult>> {
  if (!row.firstRunId) throw new ProblemError('validation-error', `job ${row.id} has not started yet: nothing to reset`);
  const desc = await currentRun(deps.client.workflow.getHandle(row.workflowId), row.id);
  let eventId: ReturnType<typeof resetEventOf>;
  try {
    eventId = resetEventOf(await historyOf(deps.client, row.workflowId, desc.runId), body.to);
  } catch (err) {
    temporalProblem(err, `job ${row.id} has no run to reset`);
  }
  const resetEventId = Number(eventId);
  const entry = auditEntry(caller, 'job.reset', row.id, requestId, { reason: body.reason, to: body.to, previousRunId: desc.runId, resetEventId });
  const runId = await auditedEffect(
    deps.db,
    entry,
    async () => {
      try {
        const res = await deps.client.workflowService.resetWorkflowExecution({
          namespace: deps.config.temporalNamespace,
          workflowExecution: { workflowId: row.workflowId, runId: desc.runId },
          reason: recordedReason(caller, body.reason),
          workflowTaskFinishEventId: eventId,
          requestId: randomUUID(),
          resetReapplyType: reapplyAll,
          identity: `jobplane-api ${caller.keyId}`,
        });
        return res.runId ?? '';
      } catch (err) {
        temporalProblem(err, `job ${row.id} has no run to reset`);
      }
    },
    (newRunId) => ({ runId: newRunId }),
  );
  return {
    jobId: row.id,
    workflowId: row.workflowId,
    previousRunId: desc.runId,
    runId,
    resetEventId,
    links: { job: `${deps.config.publicUrl}/v1/jobs/${row.id}`, ui: webUiLink(deps.config, row.workflowId, runId) },
  };
}

/** Terminates the running job at once: no cleanup code runs (use cancel for that). 409 when it has finished. */
export async function terminateJob(deps: OpsServiceDeps, caller: TenantCaller, row: JobRow, reason: string, requestId: string): Promise<JobView> {
  await assertRunning(deps.client, row);
  await auditedEffect(deps.db, auditEntry(caller, 'job.terminate', row.id, requestId, { reason }), async () => {
    try {
      await deps.client.workflow.getHandle(row.workflowId).terminate(recordedReason(caller, reason));
    } catch (err) {
      temporalProblem(err, `job ${row.id} has no run to terminate`);
    }
  });
  return await describeJob(deps.client, deps.config, row);
}

/**
 * A new job with the same type, input, priority and labels, linked by
 * `retryOf`. The input is read back from the original run's start event
 * (decrypted with the codec), so nothing depends on a copy kept elsewhere.
 * Only for finished jobs: retrying a running one would run it twice at once.
 */
export async function retryJob(
  deps: OpsServiceDeps,
  caller: TenantCaller,
  row: JobRow,
  idempotencyKey: string | undefined,
  requestId: string,
) {
  if (!row.firstRunId) throw new ProblemError('validation-error', `job ${row.id} has not started yet: nothing to retry`);
  const desc = await currentRun(deps.client.workflow.getHandle(row.workflowId), row.id);
  if (desc.status.name === 'RUNNING') {
    throw new ProblemError('job-still-running', `job ${row.id} is still running: terminate or cancel it first, or reset it`);
  }
  let envelope: unknown;
  try {
    // Any run of the job starts with the same input (a reset copies the start event); the current one is surely retained.
    envelope = await startInputOf(deps.client, row.workflowId, desc.runId);
  } catch (err) {
    temporalProblem(err, `job ${row.id} has no history any more (older than the retention)`);
  }
  const input = (envelope as { input?: unknown } | undefined)?.input;
  contractFor(row.type); // the type must still exist
  return await createJob(
    deps,
    caller,
    { type: row.type, input, ...(row.priority ? { priority: row.priority } : {}), labels: row.labels, ...(row.callbackUrl ? { callbackUrl: row.callbackUrl } : {}), retryOf: row.id },
    idempotencyKey,
    requestId,
    // An operator may re-run an internal job (a failed document ingestion) once its cause is fixed.
    { allowInternal: true },
  );
}

/** The batch job id carries the tenant, so a describe can refuse other tenants' batches without a lookup. */
export function newBatchJobId(tenantId: string): string {
  return `${tenantId}:${newId('temporalBatch')}`;
}

/**
 * Resets every running job of the caller's tenant (optionally of one type,
 * optionally only runs a given worker build processed) in one server-side
 * batch operation. The visibility query always starts with the tenant.
 */
export async function startResetBatch(
  deps: OpsServiceDeps,
  caller: TenantCaller,
  body: { jobType?: string; buildId?: string; to: 'last-workflow-task' | 'first-workflow-task'; reason: string },
  requestId: string,
): Promise<z.infer<typeof BatchStarted>> {
  if (body.jobType) contractFor(body.jobType);
  let visibilityQuery = `TenantId = ${queryLiteral(caller.tenantId)} AND ExecutionStatus = "Running"`;
  if (body.jobType) visibilityQuery += ` AND JobType = ${queryLiteral(body.jobType)}`;
  if (body.buildId) {
    const ids = ['unversioned', 'versioned', 'assigned'].map((kind) => queryLiteral(`${kind}:${body.buildId}`));
    visibilityQuery += ` AND BuildIds IN (${ids.join(', ')})`;
  }
  const batchJobId = newBatchJobId(caller.tenantId);
  let approximateCount = 0;
  const started = async () => {
    await deps.client.workflowService.startBatchOperation({
      namespace: deps.config.temporalNamespace,
      jobId: batchJobId,
      reason: recordedReason(caller, body.reason),
      visibilityQuery,
      resetOperation: {
        identity: `jobplane-api ${caller.keyId}`,
        options: {
          ...(body.to === 'first-workflow-task' ? { firstWorkflowTask: {} } : { lastWorkflowTask: {} }),
          resetReapplyType: reapplyAll,
        },
      },
    });
  };
  try {
    approximateCount = (await visibilityOf(deps).call('count of the batch', (client) => client.workflow.count(visibilityQuery))).count;
    await auditedEffect(deps.db, auditEntry(caller, 'ops.reset-batch', batchJobId, requestId, { ...body, visibilityQuery, approximateCount }), started);
  } catch (err) {
    temporalProblem(err, 'the batch could not start');
  }
  return { batchJobId, visibilityQuery, approximateCount, links: { self: `${deps.config.publicUrl}/v1/ops/batches/${encodeURIComponent(batchJobId)}` } };
}

const batchStates: Record<number, z.infer<typeof Batch>['state']> = {
  [BatchState.BATCH_OPERATION_STATE_RUNNING]: 'running',
  [BatchState.BATCH_OPERATION_STATE_COMPLETED]: 'completed',
  [BatchState.BATCH_OPERATION_STATE_FAILED]: 'failed',
};

const isoOf = (ts: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  ts?.seconds != null && Number(ts.seconds) > 0 ? new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)).toISOString() : null;

/** State and progress of one of the tenant's batches; 404 for another tenant's (or a batch the API did not start). */
export async function describeBatch(deps: OpsServiceDeps, caller: TenantCaller, batchJobId: string): Promise<z.infer<typeof Batch>> {
  const notFound = () => new ProblemError('not-found', `no batch ${batchJobId}`);
  if (!batchJobIdPattern.test(batchJobId) || !batchJobId.startsWith(`${caller.tenantId}:`)) throw notFound();
  let res: temporal.api.workflowservice.v1.IDescribeBatchOperationResponse;
  try {
    res = await deps.client.workflowService.describeBatchOperation({ namespace: deps.config.temporalNamespace, jobId: batchJobId });
  } catch (err) {
    temporalProblem(err, `no batch ${batchJobId}`);
  }
  // Defence in depth: the query we started it with names the tenant first.
  if (res.query && !res.query.startsWith(`TenantId = ${queryLiteral(caller.tenantId)}`)) throw notFound();
  return {
    batchJobId,
    state: batchStates[res.state ?? 0] ?? 'unknown',
    reason: res.reason ?? '',
    totalOperations: Number(res.totalOperationCount ?? 0),
    completedOperations: Number(res.completeOperationCount ?? 0),
    failedOperations: Number(res.failureOperationCount ?? 0),
    startedAt: isoOf(res.startTime),
    finishedAt: isoOf(res.closeTime),
  };
}

/** `GET /v1/jobs/{id}/diagnosis`: the same view `GET /v1/ops/stuck` gives, for one job, stuck or not. */
export async function diagnoseJob(deps: OpsServiceDeps, row: JobRow, criteria: { minAttempts: number; olderThanMs: number }) {
  if (!row.firstRunId) throw new ProblemError('validation-error', `job ${row.id} has not started yet`);
  return await diagnoseRun(deps, row.workflowId, criteria);
}
