/**
 * Reading what operations need from a run's history: where a reset goes (the
 * same choice `temporal workflow reset --type …` makes), the job's original
 * input, and failures decoded with the payload codec. Also maps Temporal's
 * gRPC errors to problem responses.
 */
import { isGrpcServiceError, type Client } from '@temporalio/client';
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
// The client's own loaded converter (payload codec + failure converter); the SDK exposes the decode helpers here.
import { decodeArrayFromPayloads, decodeOptionalFailureToOptionalError } from '@temporalio/common/lib/internal-non-workflow/index.js';
// The proto package is CommonJS: Node's ESM loader sees only its default export.
import proto from '@temporalio/proto';
import { grpcStatus } from '../../runtime/grpc-status.ts';
import type { temporal } from '@temporalio/proto';
import { ProblemError } from '../http/problems.ts';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type ProtoFailure = temporal.api.failure.v1.IFailure;
const EventType = proto.temporal.api.enums.v1.EventType;

export type ResetTarget = 'last-workflow-task' | 'first-workflow-task' | { eventId: number };

/** Events a reset may point at (the server's rule for `workflowTaskFinishEventId`). */
const resettable = new Set<number>([
  EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
  EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
]);

/**
 * The event a reset of this history goes to, as an event of the history (so its
 * id keeps the protobuf Long the request needs):
 * - `last-workflow-task`: the last WorkflowTaskCompleted — a run whose newest
 *   task keeps failing restarts from the last task that worked, and the failing
 *   code runs again (fixed) from there;
 * - `first-workflow-task`: the first WorkflowTaskCompleted;
 * - with no completed task at all, both fall back to the event after the first
 *   WorkflowTaskScheduled, exactly like the temporal CLI;
 * - `{eventId}`: that event, which must be a workflow task completed, failed,
 *   timed out or started event (400 otherwise).
 */
export function resetEventOf(events: HistoryEvent[], to: ResetTarget): NonNullable<HistoryEvent['eventId']> {
  if (typeof to === 'object') {
    const event = events.find((e) => Number(e.eventId) === to.eventId);
    if (!event || !resettable.has(event.eventType ?? 0)) {
      throw new ProblemError('validation-error', `event ${to.eventId} is not a workflow task event of this run`, {
        errors: [{ path: 'to.eventId', message: 'must be the id of a WorkflowTaskCompleted, WorkflowTaskFailed, WorkflowTaskTimedOut or WorkflowTaskStarted event' }],
      });
    }
    return event.eventId!;
  }
  const completed = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  const chosen = to === 'last-workflow-task' ? completed.at(-1) : completed[0];
  if (chosen) return chosen.eventId!;
  const firstScheduled = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
  const next = firstScheduled >= 0 ? events[firstScheduled + 1] : undefined;
  if (!next) throw new ProblemError('validation-error', 'the run has no workflow task to reset to yet (no worker has picked it up)');
  return next.eventId!;
}

/** The full history of one run. */
export async function historyOf(client: Client, workflowId: string, runId: string): Promise<HistoryEvent[]> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return history.events ?? [];
}

/** The job envelope the run was started with (first event's input), decrypted with the client's codec. */
export async function startInputOf(client: Client, workflowId: string, runId: string): Promise<unknown> {
  const res = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  });
  const started = res.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started) throw new Error(`run ${runId} of ${workflowId} has no start event`);
  const [envelope] = await decodeArrayFromPayloads(client.options.loadedDataConverter, started.input?.payloads);
  return envelope;
}

export interface DecodedFailure {
  type: string;
  message: string;
}

/** A failure from describe or history, with its encrypted message and details decoded. */
export async function decodeFailure(client: Client, failure: ProtoFailure | null | undefined): Promise<DecodedFailure | null> {
  if (!failure) return null;
  try {
    const err = await decodeOptionalFailureToOptionalError(client.options.loadedDataConverter, failure);
    if (!err) return null;
    if (err instanceof ApplicationFailure) return { type: err.type ?? 'Error', message: err.message };
    if (err instanceof TemporalFailure) return { type: err.name.replace(/Failure$/, ''), message: err.message };
    return { type: err.name, message: err.message };
  } catch (err) {
    return { type: 'Undecodable', message: `could not decode the failure: ${(err as Error).message}` };
  }
}

/** The newest workflow task failure at the end of a run's history. */
export interface WorkflowTaskTail {
  failure: DecodedFailure | null;
  /** The history ends in WorkflowTaskFailed: the code of the run throws or is non-deterministic. */
  failed: boolean;
}

/**
 * Reads the end of the history (one small page): when it ends in a failed or
 * timed-out workflow task — retries of that task are not written to history —
 * returns what went wrong, decoded.
 */
export async function workflowTaskTail(client: Client, workflowId: string, runId: string): Promise<WorkflowTaskTail> {
  const res = await client.workflowService.getWorkflowExecutionHistoryReverse({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 10,
  });
  for (const e of res.history?.events ?? []) {
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED || e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) continue;
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) {
      const attrs = e.workflowTaskFailedEventAttributes;
      const decoded = await decodeFailure(client, attrs?.failure);
      // The cause says what kind of failure it is (an exception in workflow code, non-determinism, …).
      return { failed: true, failure: { type: failedCauseName(attrs?.cause), message: decoded?.message ?? 'workflow task failed' } };
    }
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT) {
      return { failed: false, failure: { type: 'WorkflowTaskTimedOut', message: 'the workflow task timed out (worker too slow, crashed, or gone)' } };
    }
    break;
  }
  return { failed: false, failure: null };
}

const failedCauses = proto.temporal.api.enums.v1.WorkflowTaskFailedCause as unknown as Record<number, string | undefined>;

/** `WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR` → `NonDeterministicError`. */
function failedCauseName(cause: number | null | undefined): string {
  const name = failedCauses[cause ?? 0]?.replace('WORKFLOW_TASK_FAILED_CAUSE_', '');
  if (!name || name === 'UNSPECIFIED') return 'WorkflowTaskFailed';
  return name.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

/** Turns a Temporal gRPC error into the problem the API answers with; anything else is rethrown. */
export function temporalProblem(err: unknown, notFoundDetail: string): never {
  if (err instanceof ProblemError) throw err;
  if (isGrpcServiceError(err)) {
    const detail = err.details || err.message;
    switch (err.code) {
      case grpcStatus.NOT_FOUND:
        throw new ProblemError('not-found', notFoundDetail);
      case grpcStatus.INVALID_ARGUMENT:
      case grpcStatus.FAILED_PRECONDITION:
      case grpcStatus.ALREADY_EXISTS:
        throw new ProblemError('validation-error', `Temporal refused: ${detail}`);
      case grpcStatus.RESOURCE_EXHAUSTED:
        throw new ProblemError('rate-limited', `Temporal is busy: ${detail}`, { retryAfterSeconds: 5 });
      case grpcStatus.UNAVAILABLE:
      case grpcStatus.DEADLINE_EXCEEDED:
        throw new ProblemError('temporal-unavailable', detail, { retryAfterSeconds: 5 });
    }
  }
  throw err;
}
