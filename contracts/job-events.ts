/**
 * Job-end events: what a tenant's webhook subscription (or a job's own
 * `callbackUrl`) receives when a job ends, one event per terminal status.
 * Sandbox-safe and pure (no Node built-ins): the API validates
 * subscriptions with these names, the workers' job-end watcher emits them.
 */

/** One event per terminal job status. */
export const jobEventTypes = ['job.succeeded', 'job.failed', 'job.cancelled', 'job.terminated', 'job.timed_out'] as const;
export type JobEventType = (typeof jobEventTypes)[number];

/** Terminal job statuses, as `GET /v1/jobs/{id}` shows them. */
export type TerminalJobStatus = 'succeeded' | 'failed' | 'cancelled' | 'terminated' | 'timed_out';

/**
 * Temporal's closed execution statuses (`WorkflowExecutionStatus` names)
 * that end a job. `CONTINUED_AS_NEW` is missing on purpose: the job goes on
 * in a new run.
 */
const statusByExecutionStatus: Readonly<Record<string, TerminalJobStatus>> = {
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
};

/** The job status a closed run ends its job with, or `undefined` when it does not end it (running, continued as new). */
export function terminalStatusOf(executionStatus: string): TerminalJobStatus | undefined {
  return Object.hasOwn(statusByExecutionStatus, executionStatus) ? statusByExecutionStatus[executionStatus] : undefined;
}

/** `succeeded` → `job.succeeded`, … */
export function jobEventTypeOf(status: TerminalJobStatus): JobEventType {
  return `job.${status}`;
}

export function isJobEventType(event: string): event is JobEventType {
  return (jobEventTypes as readonly string[]).includes(event);
}

/**
 * True when every selector is one of the job's labels (a selector is a
 * whole label, `team=payments` or a plain `urgent`): no selectors match
 * every job.
 */
export function labelsMatch(selectors: readonly string[], labels: readonly string[]): boolean {
  return selectors.every((s) => labels.includes(s));
}

/** The filters of a subscription to job events; empty lists filter nothing. */
export interface JobEventFilter {
  events: readonly string[];
  jobTypes: readonly string[];
  labels: readonly string[];
}

/** True when a subscription with `filter` receives `event` for a job of `jobType` with `labels`. */
export function subscriptionWants(filter: JobEventFilter, event: JobEventType, job: { type: string; labels: readonly string[] }): boolean {
  return filter.events.includes(event) && (filter.jobTypes.length === 0 || filter.jobTypes.includes(job.type)) && labelsMatch(filter.labels, job.labels);
}

/**
 * A job that is itself the delivery of an event (a `webhook.deliver` job
 * carrying an `event=` label): its end is never announced, or every event
 * would beget another.
 */
export function isEventDelivery(job: { type: string; labels: readonly string[] }): boolean {
  return job.type === 'webhook.deliver' && job.labels.some((l) => l.startsWith('event='));
}

/** The body every job-end webhook carries. No result: it can be large, `links.self` reads it. */
export interface JobEndedEvent {
  type: JobEventType;
  jobId: string;
  tenantId: string;
  jobType: string;
  status: TerminalJobStatus;
  labels: string[];
  /** When the run closed (Temporal's close time), ISO 8601. */
  closedAt: string;
  links: { self: string };
}
