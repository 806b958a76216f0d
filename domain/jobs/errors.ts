/**
 * A job's error as users see it: the innermost failure with a type they can
 * act on. Shared by the API's job view and the workers' dead-letter
 * projection (workers/job-events/failures.ts), so both name a failure alike.
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TemporalFailure, WorkflowFailedError } from '@temporalio/client';

export interface JobError {
  /** Stable failure type (e.g. `WebhookRejected`, `Terminated`, `TimedOut`). */
  type: string;
  message: string;
}

/** The innermost failure with a type a user can act on. */
export function errorOf(err: unknown): JobError {
  let cur: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  while (cur instanceof ActivityFailure || cur instanceof ChildWorkflowFailure) cur = cur.cause ?? cur;
  if (cur instanceof ApplicationFailure) return { type: cur.type ?? 'Error', message: cur.message };
  if (cur instanceof TemporalFailure) return { type: cur.name.replace(/Failure$/, ''), message: cur.message };
  return { type: 'Error', message: cur instanceof Error ? cur.message : String(cur) };
}
