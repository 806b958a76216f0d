/**
 * `batch.run`: one job over many items of another job type. Items run as child
 * workflows of the item type, a bounded number at a time; the batch continues
 * as new before its history grows past Temporal's limits, so a batch of any
 * length carries only counts and a cursor from run to run. Failed items are
 * kept in Postgres (not in the workflow), so the result stays small.
 */
import { z } from 'zod';
import { defineJob, type ActivityProfile, type JobContract, type JobMessages } from './job-contract.ts';
import { batchInputIdPattern } from './ids.ts';

/** Bounds every batch respects; the API documents them in the job type's schema. */
export const batchLimits = {
  /** Items given inline in the job input; larger batches use a stored list (`itemsRef`). */
  maxInlineItems: 1000,
  /** Children running at once when the input does not say. */
  defaultConcurrency: 20,
  /** Most children running at once (the history guard leaves room for all of them to finish). */
  maxConcurrency: 500,
  /** Longest a finished pass with failures waits for `retry-failed`. */
  maxRetryWindowSeconds: 7 * 24 * 3600,
  /** Failed items listed in the result; the full list is at `GET /v1/jobs/{id}/failed-items`. */
  resultFailureLimit: 100,
  /** Field-level errors reported for invalid items (the first ones, by index). */
  maxReportedItemErrors: 20,
} as const;

/** Signal, update and query names of a batch. */
export const batchMessageNames = {
  pause: 'pause',
  resume: 'resume',
  finish: 'finish',
  retryFailed: 'retry-failed',
  progress: 'progress',
} as const;

/** Stable failure types of batch updates (the API maps them to 409). */
export const batchFailureTypes = {
  /** `retry-failed` while items still run or wait, or when nothing failed. */
  retryRefused: 'BatchRetryRefused',
} as const;

export const batchStates = ['running', 'paused', 'awaiting-retry', 'completed', 'cancelled'] as const;
export type BatchStateName = (typeof batchStates)[number];

const count = z.number().int().min(0);

export const batchProgress = z.object({
  state: z.enum(batchStates),
  jobType: z.string(),
  total: count,
  /** Items that succeeded (in any round). */
  done: count,
  /** Items whose latest run failed. */
  failed: count,
  /** Children running now. */
  running: count,
  /** Items of the current round not started yet. */
  pending: count,
  /** Children cancelled with the batch. */
  cancelled: count,
  paused: z.boolean(),
  /** 0 for the first pass, n for the n-th `retry-failed`. */
  round: count,
  /** 1-based run of the continue-as-new chain this answer comes from. */
  run: z.number().int().positive(),
  retryWindowEndsAt: z.iso.datetime().optional(),
});

export const batchItemFailure = z.object({
  index: count,
  /** The item job's failure type (e.g. `WebhookRejected`, `NoopFailed`, `TimedOut`). */
  type: z.string(),
  message: z.string(),
  /** The round the item last failed in. */
  round: count,
});

export const batchRunOutput = z.object({
  total: count,
  succeeded: count,
  failed: count,
  rounds: count,
  /** The first failed items by index, at most `batchLimits.resultFailureLimit`. */
  failures: z.array(batchItemFailure),
  /** True when more items failed than `failures` lists (see `GET /v1/jobs/{id}/failed-items`). */
  failuresTruncated: z.boolean(),
});

export const retryFailedInput = z.object({}).strict();
export const retryFailedOutput = z.object({ round: z.number().int().positive(), retrying: z.number().int().positive() });
const emptySignal = z.object({}).strict();

export const batchMessages = {
  signals: {
    [batchMessageNames.pause]: { description: 'Stop starting new items; running items finish.', input: emptySignal },
    [batchMessageNames.resume]: { description: 'Start items again after `pause`.', input: emptySignal },
    [batchMessageNames.finish]: { description: 'End the retry window now: the batch completes with its result.', input: emptySignal },
  },
  updates: {
    [batchMessageNames.retryFailed]: {
      description: 'Run the failed items again (new child ids). Refused (409) while items still run or wait, or when none failed.',
      input: retryFailedInput,
      output: retryFailedOutput,
    },
  },
  queries: {
    [batchMessageNames.progress]: { description: 'Counts: done, failed, running, pending, cancelled; paused; round.', output: batchProgress },
  },
  failures: { [batchFailureTypes.retryRefused]: 'conflict' },
} satisfies JobMessages;

/** Loading pages of items and recording outcomes: short Postgres calls. */
export const batchStoreProfile: ActivityProfile = {
  startToCloseTimeout: '30 seconds',
  // About 25 minutes of retries: a Postgres outage pauses the batch instead of failing it.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 50 },
};

const batchRunBase = z
  .object({
    jobType: z.string(),
    items: z.array(z.unknown()).min(1).max(batchLimits.maxInlineItems).optional(),
    itemsRef: z.string().regex(batchInputIdPattern, 'a stored list id (bin_…) from POST /v1/batch-inputs').optional(),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(batchLimits.maxConcurrency)
      .optional()
      .describe(`Children running at once (default ${batchLimits.defaultConcurrency})`),
    retryWindowSeconds: z
      .number()
      .int()
      .min(0)
      .max(batchLimits.maxRetryWindowSeconds)
      .optional()
      .describe('After a pass with failures, wait this long for `retry-failed` before completing (default 0)'),
  })
  .strict();

export type BatchRunInput = z.infer<typeof batchRunBase>;
export type BatchProgress = z.infer<typeof batchProgress>;
export type BatchItemFailure = z.infer<typeof batchItemFailure>;
export type BatchRunOutput = z.infer<typeof batchRunOutput>;
/** How one item ended, as the batch counts it. */
export type BatchItemOutcome = { status: 'succeeded' } | { status: 'cancelled' } | { status: 'failed'; type: string; message: string };
export type RetryFailedOutput = z.infer<typeof retryFailedOutput>;

/**
 * The `batch.run` contract over a catalog of item job types: `jobType` must be
 * one of them, and every inline item is validated against that type's input
 * schema, with errors at `items.<index>.<field>`.
 */
export function defineBatchRun(itemTypes: Readonly<Record<string, JobContract>>) {
  const names = Object.keys(itemTypes) as [string, ...string[]];
  const input = batchRunBase
    .extend({ jobType: z.enum(names).describe('Job type of every item') })
    .superRefine((v, ctx) => {
      if ((v.items === undefined) === (v.itemsRef === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['items'], message: 'give items or itemsRef, exactly one' });
        return;
      }
      const item = itemTypes[v.jobType];
      if (!item || !v.items) return;
      let reported = 0;
      for (let i = 0; i < v.items.length && reported < batchLimits.maxReportedItemErrors; i++) {
        const parsed = item.input.safeParse(v.items[i]);
        if (parsed.success) continue;
        for (const issue of parsed.error.issues) {
          if (reported++ >= batchLimits.maxReportedItemErrors) break;
          ctx.addIssue({ code: 'custom', path: ['items', i, ...issue.path], message: issue.message });
        }
      }
    });
  return defineJob({
    type: 'batch.run',
    workflowType: 'batchRunWorkflow',
    description: 'Run one job type over many items as child workflows, a bounded number at a time, with progress, pause/resume and retry of failed items.',
    input,
    output: batchRunOutput,
    taskQueue: 'default',
    // A long chain of runs: the whole chain shares this bound.
    executionTimeout: '90 days',
    messages: batchMessages,
    summary: (v, meta) =>
      `batch.run ${v.jobType} × ${v.items ? v.items.length : `stored list ${v.itemsRef}`} (tenant ${meta.tenantId})`,
  });
}
