/**
 * Request and response schemas of `GET /v1/usage` and `GET /v1/jobs/{id}/usage`.
 * What each figure is and how exact it is: docs/API.md ("Usage") and docs/USAGE.md.
 */
import { z } from '@hono/zod-openapi';

/** The longest range `GET /v1/usage` answers, in days (both ends counted). */
export const maxUsageRangeDays = 366;
/** Days `GET /v1/usage` covers when `from` is left out: `to` and the 29 days before it. */
export const defaultUsageRangeDays = 30;
/** How `GET /v1/usage` groups its items. */
export const usageGroupings = ['type', 'day'] as const;
export type UsageGrouping = (typeof usageGroupings)[number];

/**
 * A UTC day, `YYYY-MM-DD`: a real calendar day (zod checks month lengths and
 * leap years) from 1970 on, the range every timestamp of the API keeps to.
 */
export const utcDay = z.iso
  .date()
  .refine((d) => d >= '1970-01-01', 'must be 1970-01-01 or later')
  .openapi({ example: '2026-12-02' });

export const UsageQuery = z.object({
  from: utcDay.optional().openapi({ description: `First UTC day, inclusive (default: \`to\` − ${defaultUsageRangeDays - 1} days)`, example: '2026-11-03' }),
  to: utcDay.optional().openapi({ description: `Last UTC day, inclusive (default: today, UTC); at most ${maxUsageRangeDays} days after \`from\`, both counted`, example: '2026-12-02' }),
  groupBy: z.enum(usageGroupings).default('type').openapi({ description: '`type`: one item per job type, by job type; `day`: one item per day that has usage, oldest first' }),
});

const figures = {
  runs: z.number().int().openapi({ description: 'Runs that closed (each run of a continue-as-new chain, a reset, a retry counts)' }),
  actions: z.number().int().openapi({ description: 'Billable Temporal actions, counted from each run’s history as Temporal Cloud bills them' }),
  historyBytes: z.number().int().openapi({ description: 'The server’s size of the runs’ histories, in bytes' }),
  activityAttempts: z.number().int().openapi({ description: 'Activity attempts, as the runs’ histories show them' }),
  activityWallMs: z.number().int().openapi({ description: 'Wall time of the activity attempts on the workers, in ms' }),
  activityCpuMs: z.number().openapi({ description: 'The attempts’ share of the workers’ CPU, in ms (3 decimals)' }),
  storageBytes: z.number().int().openapi({ description: 'Bytes added to storage: documents ingested (and what was derived from them), stored batch lists under `batch.run`' }),
};

export const UsageFigures = z.object(figures).openapi('UsageFigures');

const UsageByType = z.object({ jobType: z.string().openapi({ example: 'webhook.deliver' }), ...figures }).openapi('UsageByType');
const UsageByDay = z.object({ day: z.string().openapi({ example: '2026-12-02' }), ...figures }).openapi('UsageByDay');

const range = { from: z.string().openapi({ example: '2026-11-03' }), to: z.string().openapi({ example: '2026-12-02' }), total: UsageFigures };

/** The answer of `GET /v1/usage`: its items' shape follows `groupBy`. */
export const UsageReport = z
  .discriminatedUnion('groupBy', [
    z.object({ ...range, groupBy: z.literal('type'), items: z.array(UsageByType) }),
    z.object({ ...range, groupBy: z.literal('day'), items: z.array(UsageByDay) }),
  ])
  .openapi('UsageReport');

const runFigures = {
  actions: figures.actions,
  historyBytes: z.number().int().openapi({ description: 'The server’s size of the run’s history, in bytes' }),
  historyEvents: z.number().int(),
  activityAttempts: figures.activityAttempts,
  activityWallMs: figures.activityWallMs,
  activityCpuMs: figures.activityCpuMs,
  storageBytes: z.number().int().openapi({ description: 'Bytes the run added to storage (documents it ingested and what it derived from them)' }),
};

export const RunUsage = z
  .object({
    runId: z.string(),
    closedAt: z.string().openapi({ example: '2026-12-02T10:00:00.000Z' }),
    status: z.string().openapi({ description: 'How the run closed, as Temporal names it', example: 'COMPLETED' }),
    day: z.string().openapi({ description: 'The UTC day the run is summed under in `GET /v1/usage`', example: '2026-12-02' }),
    ...runFigures,
    actionsByKind: z.record(z.string(), z.number().int()).openapi({ description: 'The billable actions by kind', example: { workflow: 1, activity: 2, timer: 1 } }),
  })
  .openapi('RunUsage');

export const JobUsage = z
  .object({
    jobId: z.string(),
    jobType: z.string(),
    runs: z.array(RunUsage).openapi({ description: 'The job’s closed runs, in the order they closed (empty until the first one closes and the job-end watcher reads it)' }),
    total: z.object(runFigures).openapi('JobUsageTotal'),
  })
  .openapi('JobUsage');

export type UsageReportView = z.infer<typeof UsageReport>;
export type JobUsageView = z.infer<typeof JobUsage>;
