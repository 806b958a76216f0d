/**
 * What every job type declares, in one place that the API, the workers and
 * the workflows share. Safe inside the workflow sandbox: zod and plain data only.
 */
import type { z } from 'zod';

/** Activity options a workflow proxies with: a named timeout profile per kind of activity. */
export interface ActivityProfile {
  startToCloseTimeout: string;
  heartbeatTimeout?: string;
  scheduleToCloseTimeout?: string;
  retry: {
    initialInterval: string;
    backoffCoefficient: number;
    maximumInterval: string;
    maximumAttempts: number;
    nonRetryableErrorTypes?: string[];
  };
}

export interface JobContract<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  /** Public job type name used in the API (`webhook.deliver`). */
  type: string;
  /** Exported workflow function name in `workflows/index.ts`. */
  workflowType: string;
  /** One line for humans (docs, `GET /v1/job-types`). */
  description: string;
  input: I;
  output: O;
  /** Logical task queue; the runtime adds the environment prefix. */
  taskQueue: string;
  /** Bound on a whole run, so a stuck job ends as `timed_out` instead of running forever. */
  executionTimeout: string;
  /** One-line summary the Web UI shows for a run. */
  summary: (input: z.infer<I>, meta: { tenantId: string; jobId: string }) => string;
}

/** What a job workflow receives: the validated input plus the ids it belongs to. */
export interface JobEnvelope<T> {
  tenantId: string;
  jobId: string;
  input: T;
}

/** Identity helper that keeps the literal types of a contract. */
export function defineJob<I extends z.ZodType, O extends z.ZodType>(contract: JobContract<I, O>): JobContract<I, O> {
  return contract;
}
