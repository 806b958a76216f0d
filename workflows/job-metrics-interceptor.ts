/**
 * Job outcome metrics, recorded from inside the workflow sandbox with the
 * SDK's replay-safe `metricMeter` (nothing is recorded while replaying, and
 * nothing touches history), so they leave through the worker Runtime's
 * Prometheus exporter next to the SDK's own metrics:
 *
 * - `jobplane_jobs_finished` (counter): one per job run that ends, tagged
 *   `job_type` (the contract's type, e.g. `webhook.deliver`), `tenant` and
 *   `status` (`succeeded` | `failed` | `cancelled`);
 * - `jobplane_job_duration` (histogram, ms): from the start of the workflow
 *   execution chain to the end, tagged `job_type`, `tenant` and `status`.
 *
 * Not outcomes, so not counted: `continueAsNew` (the job goes on in a new
 * run) and errors that fail the workflow task instead of the workflow (the
 * task is retried; the job has not finished).
 */
import {
  ContinueAsNew,
  isCancellation,
  metricMeter,
  TemporalFailure,
  workflowInfo,
  type Next,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
} from '@temporalio/workflow';
import { jobCatalog } from '../contracts/index.ts';

export type JobStatus = 'succeeded' | 'failed' | 'cancelled';

export const jobsFinishedMetric = 'jobplane_jobs_finished';
export const jobDurationMetric = 'jobplane_job_duration';

const jobTypeByWorkflowType: Readonly<Record<string, string>> = Object.fromEntries(
  Object.values(jobCatalog).map((c) => [c.workflowType, c.type]),
);

/** The contract's job type of a workflow type; unknown workflow types keep their own name. */
export function jobTypeOf(workflowType: string): string {
  return Object.hasOwn(jobTypeByWorkflowType, workflowType) ? jobTypeByWorkflowType[workflowType]! : workflowType;
}

/** The tenant of a job workflow's envelope argument (`args[0].tenantId`), or `unknown`. */
export function tenantOf(args: readonly unknown[]): string {
  const first = args[0];
  if (typeof first === 'object' && first !== null && 'tenantId' in first) {
    const tenantId = (first as { tenantId: unknown }).tenantId;
    if (typeof tenantId === 'string' && tenantId) return tenantId;
  }
  return 'unknown';
}

/** What a workflow's thrown error means for the job, or `undefined` when the job has not finished. */
export function outcomeOfError(err: unknown): Exclude<JobStatus, 'succeeded'> | undefined {
  if (err instanceof ContinueAsNew) return undefined;
  if (isCancellation(err)) return 'cancelled';
  // Only TemporalFailures fail a workflow; anything else fails the workflow task, which is retried.
  if (err instanceof TemporalFailure) return 'failed';
  return undefined;
}

export class JobMetricsInboundInterceptor implements WorkflowInboundCallsInterceptor {
  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    try {
      const result = await next(input);
      record(input.args, 'succeeded');
      return result;
    } catch (err) {
      const status = outcomeOfError(err);
      if (status) record(input.args, status);
      throw err;
    }
  }
}

function record(args: readonly unknown[], status: JobStatus): void {
  const info = workflowInfo();
  const tags = { job_type: jobTypeOf(info.workflowType), tenant: tenantOf(args), status };
  metricMeter.createCounter(jobsFinishedMetric, undefined, 'Jobs that ended, by job type, tenant and status').add(1, tags);
  // Workflow time: deterministic, the start of the workflow task that ends the job.
  const durationMs = Math.max(0, Math.round(Date.now() - info.startTime.getTime()));
  metricMeter.createHistogram(jobDurationMetric, 'int', 'ms', 'Job duration from the start of its workflow execution chain').record(durationMs, tags);
}
