/**
 * Request and response schemas of the operations routes (`/v1/ops/…` and the
 * reset / terminate / retry / diagnosis routes under `/v1/jobs/{id}`). Like
 * `schemas.ts`, they validate requests and generate `/openapi.json`.
 */
import { z } from '@hono/zod-openapi';

export const stuckReasons = ['workflow-task-failing', 'activity-retrying', 'overdue'] as const;
export type StuckReason = (typeof stuckReasons)[number];

const duration = z.string().regex(/^[1-9]\d{0,6}(s|m|h|d)$/, 'like 90s, 30m, 1h, 2d');

export const StuckQuery = z.object({
  minAttempts: z.coerce.number().int().min(1).max(10_000).default(3).openapi({ description: 'A pending activity counts as stuck from this attempt on' }),
  olderThan: duration.default('1h').openapi({ description: 'A run counts as overdue once it has run this long: `90s`, `30m`, `1h`, `2d`' }),
  type: z.string().max(100).optional().openapi({ description: 'Only jobs of this type' }),
  limit: z.coerce.number().int().min(1).max(500).default(200).openapi({ description: 'Look at most at this many running jobs (each costs one describe)' }),
});

const Failure = z.object({ type: z.string(), message: z.string() }).openapi('OpsFailure');

export const PendingActivity = z
  .object({
    activityId: z.string(),
    activityType: z.string(),
    state: z.string().openapi({ example: 'scheduled' }),
    attempt: z.number().int(),
    maximumAttempts: z.number().int().openapi({ description: '0 = unlimited' }),
    lastFailure: Failure.nullable(),
    nextAttemptAt: z.string().nullable(),
  })
  .openapi('PendingActivity');

export const OpsCommands = z
  .object({
    describe: z.string().openapi({ description: 'temporal CLI: pending tasks, attempts, last failure' }),
    reset: z.string().openapi({ description: 'temporal CLI: reset to the last completed workflow task' }),
    tctlReset: z.string().openapi({ description: 'The same reset with tctl' }),
    opsDescribe: z.string().nullable().openapi({ description: 'Ops CLI (`npm run ops`); null for runs that are not API jobs' }),
    opsReset: z.string().nullable(),
  })
  .openapi('OpsCommands');

export const JobDiagnosis = z
  .object({
    jobId: z.string().nullable().openapi({ description: 'null for runs the API did not create (a schedule’s runs)' }),
    type: z.string(),
    workflowId: z.string(),
    runId: z.string(),
    status: z.string().openapi({ example: 'running' }),
    reason: z.enum(stuckReasons).nullable().openapi({ description: 'The most severe reason; null when nothing looks stuck' }),
    reasons: z.array(z.enum(stuckReasons)),
    advice: z.string().openapi({ description: 'What to do about the most severe reason (see docs/RUNBOOK.md)' }),
    attempts: z.number().int().openapi({ description: 'Attempt of the failing workflow task or of the most retried activity' }),
    lastFailure: Failure.nullable().openapi({ description: 'Decoded with the payload codec' }),
    startedAt: z.string(),
    runningSeconds: z.number().int(),
    buildIds: z.array(z.string()).openapi({ description: 'Worker build ids that processed this run (use with `reset-batch`)' }),
    workflowTask: z.object({ state: z.string(), attempt: z.number().int(), lastFailure: Failure.nullable() }).nullable(),
    pendingActivities: z.array(PendingActivity),
    links: z.object({ ui: z.string(), job: z.string().nullable() }),
    commands: OpsCommands,
  })
  .openapi('JobDiagnosis');

export const StuckList = z
  .object({
    items: z.array(JobDiagnosis),
    scanned: z.number().int().openapi({ description: 'Running jobs looked at' }),
    truncated: z.boolean().openapi({ description: 'More running jobs exist than `limit`' }),
  })
  .openapi('StuckList');

const reason = z.string().trim().min(1).max(500).openapi({ example: 'fixed in release 2024-06-01' });
const resetTarget = z.enum(['last-workflow-task', 'first-workflow-task']);

export const ResetJobBody = z
  .object({
    to: z
      .union([resetTarget, z.object({ eventId: z.number().int().min(1) }).strict()])
      .default('last-workflow-task')
      .openapi({
        description:
          '`last-workflow-task`: the last completed workflow task, like `temporal workflow reset --type LastWorkflowTask` (what fixes a run whose task keeps failing); `first-workflow-task`: the first one; `{eventId}`: that WorkflowTaskCompleted/Failed/TimedOut event',
      }),
    reason,
  })
  .strict()
  .openapi('ResetJob');

export const ResetResult = z
  .object({
    jobId: z.string(),
    workflowId: z.string(),
    previousRunId: z.string(),
    runId: z.string().openapi({ description: 'The new run' }),
    resetEventId: z.number().int(),
    links: z.object({ job: z.string(), ui: z.string() }),
  })
  .openapi('ResetResult');

export const TerminateJobBody = z.object({ reason }).strict().openapi('TerminateJob');

export const buildIdPattern = /^[A-Za-z0-9_.@+:/-]{1,255}$/;

export const ResetBatchBody = z
  .object({
    jobType: z.string().min(1).max(100).optional().openapi({ description: 'Only running jobs of this type (default: every running job of the tenant)' }),
    buildId: z.string().regex(buildIdPattern, 'letters, digits and _ . @ + : / - only').optional().openapi({
      description: 'Only runs a worker with this build id processed (see `buildIds` in `GET /v1/ops/stuck`)',
    }),
    to: resetTarget.default('last-workflow-task'),
    reason,
  })
  .strict()
  .openapi('ResetBatch');

export const batchJobIdPattern = /^[A-Za-z0-9_-]{1,64}:batch_[0-9a-z]{26}$/;

export const BatchStarted = z
  .object({
    batchJobId: z.string().openapi({ example: 'ten_0123456789abcdef:batch_01m81ksmy97xeysea3jw5pzzq4' }),
    visibilityQuery: z.string(),
    approximateCount: z.number().int().openapi({ description: 'Running jobs that matched when the batch started' }),
    links: z.object({ self: z.string() }),
  })
  .openapi('BatchStarted');

export const Batch = z
  .object({
    batchJobId: z.string(),
    state: z.enum(['running', 'completed', 'failed', 'unknown']),
    reason: z.string(),
    totalOperations: z.number().int(),
    completedOperations: z.number().int(),
    failedOperations: z.number().int(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi('Batch');

export const BatchIdParam = z.object({
  batchJobId: z.string().openapi({ param: { name: 'batchJobId', in: 'path' }, example: 'ten_0123456789abcdef:batch_01m81ksmy97xeysea3jw5pzzq4' }),
});
