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

/**
 * Messages a job type accepts while it runs. Keys are the Temporal signal /
 * update / query names the workflow defines; the API validates payloads with
 * these schemas before they reach Temporal.
 */
export interface JobMessages {
  signals?: Record<string, { description: string; input: z.ZodType }>;
  updates?: Record<string, { description: string; input: z.ZodType; output: z.ZodType }>;
  queries?: Record<string, { description: string; output: z.ZodType }>;
  /**
   * How the API answers when an update handler or validator refuses with an
   * `ApplicationFailure` of this type: `invalid` → 400 (field errors from
   * `details[0]`), `forbidden` → 403, `conflict` → 409. Other types → 400.
   */
  failures?: Record<string, 'invalid' | 'forbidden' | 'conflict'>;
}

/**
 * One job type. `T` keeps the type's name as a literal (`'webhook.deliver'`)
 * so the catalog's keys, and the typed client's input and output types, are
 * derived from the contracts rather than restated.
 */
export interface JobContract<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType, T extends string = string> {
  /** Public job type name used in the API (`webhook.deliver`). */
  type: T;
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
  /** Signals, updates and queries the API exposes under `/v1/jobs/{id}/…`. */
  messages?: JobMessages;
  /**
   * One-line summary the Web UI shows for a run. A method, not a function
   * property, so a contract with a specific input still satisfies
   * `JobContract` (the catalog's `satisfies` check) without a cast.
   */
  summary(input: z.infer<I>, meta: { tenantId: string; jobId: string }): string;
  /**
   * Set for job types the platform starts itself: `POST /v1/jobs` and
   * schedules refuse them (400 `job-type-internal`), naming this text as the
   * way to start one (e.g. "upload with POST /v1/documents"). They are still
   * listed, read, cancelled and retried like any job.
   */
  internal?: string;
}

/** What a job workflow receives: the validated input plus the ids it belongs to. */
export interface JobEnvelope<T> {
  tenantId: string;
  jobId: string;
  /** Set when a schedule started this run; the run's own job id then comes from its workflow id (see `runJobId`). */
  scheduleId?: string;
  input: T;
}

/** Identity helper that keeps the literal types of a contract: its schemas and its type name. */
export function defineJob<I extends z.ZodType, O extends z.ZodType, const T extends string>(contract: JobContract<I, O, T>): JobContract<I, O, T> {
  return contract;
}

/** What every catalog (`contracts/index.ts`) satisfies: contracts keyed by their own type name. */
export type JobCatalogShape = Readonly<Record<string, JobContract>>;
