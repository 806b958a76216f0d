import { z } from 'zod';
import { defineJob } from './job-contract.ts';

/** Stable failure type of a `noop` job asked to fail (`fail: true`). */
export const noopFailureType = 'NoopFailed';

/** Longest `sleepMs` a noop accepts: it is a test and benchmark tool, not a timer service. */
export const noopMaxSleepMs = 60_000;

export const noopInput = z
  .object({
    /** Sleep this long (a durable workflow timer) before finishing. */
    sleepMs: z.number().int().min(0).max(noopMaxSleepMs).optional(),
    /** Fail with the business failure `NoopFailed` instead of succeeding. */
    fail: z.boolean().optional(),
    /** Free-form label echoed in the result (handy to tell batch items apart). */
    tag: z.string().max(200).optional(),
  })
  .strict();

export const noopOutput = z.object({ ok: z.literal(true), tag: z.string().optional() });

export type NoopInput = z.infer<typeof noopInput>;
export type NoopOutput = z.infer<typeof noopOutput>;

export const noop = defineJob({
  type: 'noop',
  workflowType: 'noopWorkflow',
  description: 'Does nothing (optionally sleeps or fails): for tests, benchmarks and batch dry runs.',
  input: noopInput,
  output: noopOutput,
  taskQueue: 'default',
  executionTimeout: '1 hour',
  summary: (input, meta) => `noop${input.tag ? ` ${input.tag}` : ''} (tenant ${meta.tenantId})`,
});
