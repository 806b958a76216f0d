/** Request and response schemas of `/v1/jobs` and `/v1/job-types`. */
import { z } from '@hono/zod-openapi';
import { maxDebounceSeconds } from '../../contracts/debounce.ts';
import { timestamp } from '../http/schemas.ts';
import { scheduleIdPattern } from '../../contracts/ids.ts';
import { jobStatuses } from './view.ts';

export const JobStatus = z.enum(jobStatuses).openapi('JobStatus');

export const Job = z
  .object({
    id: z.string().openapi({ example: 'job_01m81ksmy97xeysea3jw5pzzq4' }),
    type: z.string().openapi({ example: 'webhook.deliver' }),
    status: JobStatus,
    workflowId: z.string(),
    runId: z.string().nullable(),
    priority: z.number().int().nullable().optional(),
    labels: z.array(z.string()).optional(),
    retryOf: z.string().nullable().optional(),
    parentJobId: z.string().nullable().optional().openapi({ description: 'The job whose workflow started this one (a batch item’s batch, a notification’s approval)' }),
    scheduleId: z.string().nullable().optional().openapi({ description: 'The schedule that started this run' }),
    callbackUrl: z.string().nullable().optional().openapi({ description: 'Where the job’s end event is delivered, if given at create' }),
    result: z.unknown().optional(),
    error: z.object({ type: z.string(), message: z.string() }).optional(),
    createdAt: z.string(),
    startAt: z.string().optional(),
    finishedAt: z.string().optional(),
    links: z.object({ self: z.string(), ui: z.string() }),
  })
  .openapi('Job');

/** The longest `dedupe.window`: 7 days. */
export const maxDedupeWindowSeconds = 7 * 86_400;

/** A duration (seconds, or `30s`, `5m`, `2h`, `1d`) between `min` and `max` seconds. */
const durationBetween = (min: number, max: number, message: string) =>
  z
    .union([z.number().min(min).max(max), z.string().regex(/^\d{1,12}(ms|s|m|h|d)$/, 'like 30s, 5m, 2h, 1d')])
    .refine((d) => delaySeconds(d) >= min && delaySeconds(d) <= max, message);

/** The latest a job may be scheduled to start (`startAt`, `delay`): 365 days from the request. */
export const maxStartDelaySeconds = 365 * 86_400;

const unitSeconds: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/** `delay` in seconds (a number, or `30s`, `5m`, `2h`, `1d`). */
export function delaySeconds(delay: number | string): number {
  if (typeof delay === 'number') return delay;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(delay);
  return m ? Number(m[1]) * unitSeconds[m[2]!]! : Number.NaN;
}

/** A job label (`team=billing`, or a plain `urgent`): also the shape of a subscription's label selector. */
export const jobLabel = z
  .string()
  .regex(/^[A-Za-z0-9_.:=/-]{1,100}$/, 'letters, digits and _ . : = / - only, at most 100')
  .openapi({ example: 'team=billing' });

export const CreateJobBody = z
  .object({
    type: z.string().min(1).max(100).openapi({ example: 'webhook.deliver' }),
    input: z.unknown().refine((v) => v !== undefined, 'is required').openapi({
      description: 'Validated against the job type’s input schema (see `GET /v1/job-types`)',
      example: { url: 'https://example.com/hooks', payload: { hello: 'world' } },
    }),
    priority: z.number().int().min(1).max(5).optional().openapi({ description: '1 runs first, 5 last; default 3' }),
    startAt: timestamp
      .refine((s) => Date.parse(s) <= Date.now() + maxStartDelaySeconds * 1000, 'must be at most 365 days from now')
      .optional()
      .openapi({ description: 'Start no earlier than this time (at most 365 days ahead)' }),
    delay: z
      .union([z.number().int().min(0).max(maxStartDelaySeconds), z.string().regex(/^\d{1,12}(ms|s|m|h|d)$/, 'like 30s, 5m, 2h, 1d')])
      .refine((d) => delaySeconds(d) <= maxStartDelaySeconds, 'must be at most 365 days')
      .optional()
      .openapi({ description: 'Start after this long: seconds, or `30s`, `5m`, `2h`, `1d` (at most 365 days)' }),
    labels: z.array(jobLabel).max(20).optional(),
    dedupe: z
      .object({
        key: z.string().regex(/^[A-Za-z0-9_.:=/-]{1,200}$/, 'letters, digits and _ . : = / - only, at most 200').openapi({ example: 'sync-account:42' }),
        window: z
          .union([z.number().int().min(1).max(maxDedupeWindowSeconds), z.string().regex(/^\d{1,12}(ms|s|m|h|d)$/, 'like 30s, 5m, 2h, 1d')])
          .refine((w) => delaySeconds(w) >= 1 && delaySeconds(w) <= maxDedupeWindowSeconds, 'must be between 1 s and 7 days')
          .openapi({ description: 'seconds, or `30s`, `5m`, `2h`, `1d` (1 s to 7 days)', example: '5m' }),
      })
      .strict()
      .optional()
      .openapi({ description: 'Within `window`, every create of the tenant with the same `key` answers the job the first one made (200, whatever its body)' }),
    debounce: z
      .object({
        key: z.string().regex(/^[A-Za-z0-9_.:=/-]{1,200}$/, 'letters, digits and _ . : = / - only, at most 200').openapi({ example: 'reindex-account:42' }),
        delay: durationBetween(0.1, maxDebounceSeconds, 'must be between 100 ms and 24 hours').openapi({ description: 'Start once no create with this key came for this long', example: '5s' }),
        maxWait: durationBetween(0.1, maxDebounceSeconds, 'must be between 100 ms and 24 hours')
          .optional()
          .openapi({ description: 'Start at the latest this long after the burst’s first create, even if creates keep coming (default: no limit)', example: '1m' }),
      })
      .strict()
      .optional()
      .openapi({ description: 'Collapse a burst: creates of the tenant with the same `key` join one pending job (202), which starts with the latest create’s body once none came for `delay`' }),
    callbackUrl: z
      .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })
      .max(2048)
      .optional()
      .openapi({ description: 'Receives the job’s end event (`job.succeeded`, `job.failed`, …) as a signed webhook; checked like a subscription URL (no private or loopback hosts)' }),
  })
  .strict()
  .refine((b) => !(b.startAt && b.delay !== undefined), { message: 'give startAt or delay, not both', path: ['delay'] })
  .refine((b) => !(b.debounce && (b.dedupe || b.startAt || b.delay !== undefined)), { message: 'debounce cannot be combined with dedupe, startAt or delay', path: ['debounce'] })
  .openapi('CreateJob');

export const ListJobsQuery = z.object({
  type: z.string().max(100).optional(),
  status: JobStatus.optional(),
  label: jobLabel.optional(),
  createdAfter: timestamp.optional(),
  createdBefore: timestamp.optional(),
  scheduleId: z.string().regex(scheduleIdPattern, 'a schedule id (sch_…)').optional().openapi({ description: 'Only the runs of this schedule' }),
  root: z.enum(['true', 'false']).optional().openapi({ description: '`true`: only jobs no other job started (no batch items, no notifications)' }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional().openapi({ description: '`nextCursor` of the previous page' }),
});

export const JobList = z
  .object({ items: z.array(Job), nextCursor: z.string().nullable() })
  .openapi('JobList');

export const DebouncedJob = z
  .object({
    id: z.string().openapi({ description: 'The job the burst will start: `GET /v1/jobs/{id}` finds it once it has started (404 until then)', example: 'job_01m81ksmy97xeysea3jw5pzzq4' }),
    type: z.string(),
    status: z.literal('debouncing'),
    debounce: z.object({ key: z.string(), creates: z.number().int().openapi({ description: 'Creates in the burst so far, this one included' }), delaySeconds: z.number() }),
    links: z.object({ self: z.string() }),
  })
  .openapi('DebouncedJob');

export const JobIdParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'job_01m81ksmy97xeysea3jw5pzzq4' }) });
export const MessageParam = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' } }),
  name: z.string().openapi({ param: { name: 'name', in: 'path' }, example: 'approve' }),
});

export const WaitQuery = z.object({
  waitSeconds: z.coerce.number().int().min(0).max(60).default(0).openapi({ description: 'Long-poll up to this long for the job to finish' }),
});

export const JobType = z
  .object({
    type: z.string(),
    description: z.string(),
    taskQueue: z.string(),
    internal: z.boolean().openapi({ description: 'Started by the platform (e.g. document.ingest by uploads); POST /v1/jobs refuses it' }),
    input: z.record(z.string(), z.unknown()).openapi({ description: 'JSON Schema' }),
    output: z.record(z.string(), z.unknown()).openapi({ description: 'JSON Schema' }),
    signals: z.record(z.string(), z.object({ description: z.string(), input: z.record(z.string(), z.unknown()) })),
    updates: z.record(z.string(), z.object({ description: z.string(), input: z.record(z.string(), z.unknown()), output: z.record(z.string(), z.unknown()) })),
    queries: z.record(z.string(), z.object({ description: z.string(), output: z.record(z.string(), z.unknown()) })),
  })
  .openapi('JobType');
