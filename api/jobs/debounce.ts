/**
 * Debounced creates: `POST /v1/jobs` with `debounce: { key, delay }`. Every
 * create of the tenant with the key, while the burst lasts, is an update of
 * the key's debouncer workflow (workflows/debounce.ts) sent with
 * update-with-start: the first create starts the debouncer, every create
 * replaces the input and is answered with the burst's job id (202). Once no
 * create came for `delay`, the debouncer creates that one job with the latest
 * input; the next create opens a new burst and a new job.
 *
 * An accepted create is in the debouncer's history before the API answers,
 * so it is never lost: its input is the job's or a later create's replaced it.
 */
import { setTimeout } from 'node:timers/promises';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Workflow } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  debounceClosedFailureType,
  debounceCreateUpdateName,
  debounceTaskQueue,
  debounceWorkflowType,
  type DebounceAnswer,
  type DebounceArgs,
  type DebouncedCreate,
} from '../../contracts/debounce.ts';
import { searchAttributes } from '../../contracts/search-attributes.ts';
import { debounceWorkflowIdFor } from '../../contracts/workflow-ids.ts';
import { auditedEffect } from '../../db/audit.ts';
import { grpcCodeOf, grpcStatus } from '../../runtime/grpc-status.ts';
import { newJobId } from '../../runtime/ids.ts';
import { taskQueueName } from '../../runtime/temporal.ts';
import type { TenantCaller } from '../http/auth.ts';
import { ProblemError } from '../http/problems.ts';
import { untimed, type TimePhase } from '../http/server-timing.ts';
import { enforceCreateLimits } from '../limits/tenant-limits.ts';
import { delaySeconds } from './schemas.ts';
import { auditEntry, checkCreateRequest, refuseIfUnreachable, type CreateJobRequest, type JobServiceDeps } from './service.ts';

export interface DebouncedJobView {
  id: string;
  type: string;
  status: 'debouncing';
  debounce: { key: string; creates: number; delaySeconds: number };
  links: { self: string };
}

/** How long a create keeps trying while the burst it landed in is closing (its job starting: milliseconds, usually). */
const closingRetryMs = 8000;

export async function debounceJob(
  deps: JobServiceDeps,
  caller: TenantCaller,
  req: CreateJobRequest & { debounce: { key: string; delay: number | string; maxWait?: number | string } },
  idempotencyKey: string | undefined,
  requestId: string,
  time: TimePhase = untimed,
): Promise<DebouncedJobView> {
  const { input } = await checkCreateRequest(deps, caller, req);
  // Each create is a request the tenant's rate pays for, like any create; the job's start itself takes no token.
  await time('limits', () => enforceCreateLimits(deps, caller));
  // An update-with-start waits up to the message timeout for a worker, far past a start's 3 s deadline, so an
  // unreachable Temporal would hold this create that long: ask the probe first (its result when at most 2 s old,
  // else one probe of at most 1.5 s) and refuse at once.
  refuseIfUnreachable(await deps.temporalHealth?.unreachable());

  const { key } = req.debounce;
  const delayMs = Math.round(delaySeconds(req.debounce.delay) * 1000);
  const create: DebouncedCreate = {
    type: req.type,
    input,
    labels: req.labels ?? [],
    priority: req.priority ?? null,
    callbackUrl: req.callbackUrl ?? null,
    createdByKeyId: caller.keyId,
    requestId,
  };
  const args: DebounceArgs = {
    tenantId: caller.tenantId,
    key,
    jobId: newJobId(),
    delayMs,
    maxWaitMs: req.debounce.maxWait === undefined ? null : Math.round(delaySeconds(req.debounce.maxWait) * 1000),
  };
  const entry = auditEntry(caller, 'job.debounce', key, requestId, { type: req.type, key, idempotencyKey: idempotencyKey ?? null });
  const answer = await auditedEffect(deps.db, entry, () => time('start', () => sendToBurst(deps, caller.tenantId, args, create, idempotencyKey)), (a) => ({ jobId: a.jobId, creates: a.creates }));
  return {
    id: answer.jobId,
    type: req.type,
    status: 'debouncing',
    debounce: { key, creates: answer.creates, delaySeconds: delayMs / 1000 },
    links: { self: `${deps.config.publicUrl}/v1/jobs/${answer.jobId}` },
  };
}

/** Update-with-start of the key's debouncer; a burst that is closing is waited out and the next run's burst joined. */
async function sendToBurst(deps: JobServiceDeps, tenantId: string, args: DebounceArgs, create: DebouncedCreate, idempotencyKey: string | undefined): Promise<DebounceAnswer> {
  const giveUpAt = Date.now() + closingRetryMs;
  for (let attempt = 1; ; attempt++) {
    // A start operation is used once: a new one per attempt.
    const startWorkflowOperation = new WithStartWorkflowOperation(debounceWorkflowType, {
      workflowId: debounceWorkflowIdFor(tenantId, args.key),
      taskQueue: taskQueueName(deps.config, debounceTaskQueue),
      args: [args],
      // A running debouncer is the burst to join; a closed one is replaced by a new run (a new burst).
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: [{ key: searchAttributes.tenantId, value: tenantId }],
      staticSummary: `debounce "${args.key}" → one ${create.type} job (tenant ${tenantId})`,
    });
    try {
      return await deps.client.withDeadline(Date.now() + deps.config.messageTimeoutMs, () =>
        deps.client.workflow.executeUpdateWithStart<Workflow, DebounceAnswer, [DebouncedCreate]>(debounceCreateUpdateName, {
          args: [create],
          startWorkflowOperation,
          // Within one burst a repeated Idempotency-Key is the same update: answered once, applied once.
          ...(idempotencyKey ? { updateId: idempotencyKey } : {}),
        }),
      );
    } catch (err) {
      const retriable = burstClosing(err) || grpcCodeOf(err) === grpcStatus.FAILED_PRECONDITION;
      if (retriable && Date.now() < giveUpAt) {
        await setTimeout(Math.min(20 * attempt, 200));
        continue;
      }
      throw sendProblem(err, retriable);
    }
  }
}

/** The debouncer refused the create because its burst is over and the job starting: the next run takes it. */
function burstClosing(err: unknown): boolean {
  return err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure && err.cause.type === debounceClosedFailureType;
}

function sendProblem(err: unknown, retriable: boolean): unknown {
  if (retriable) return new ProblemError('update-not-applied', 'the debounce burst could not take this create in time; it was not applied, retry', { retryAfterSeconds: 1 });
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return new ProblemError('workers-unavailable', 'no worker took the debounced create in time; it may still apply, so retry with the same Idempotency-Key');
  }
  const code = grpcCodeOf(err);
  if (code === grpcStatus.UNAVAILABLE || code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED) {
    return new ProblemError('temporal-unavailable', `could not reach the debouncer: ${(err as Error).message}`, { retryAfterSeconds: 5 });
  }
  return err;
}
