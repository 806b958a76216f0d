/**
 * Request and response schemas of `/v1/schedules`, plus the parsers of the
 * timetable fields (cron, interval, time zone). Timetables are checked here,
 * before Temporal sees them, so a bad one is a 400 with a field path rather
 * than a server error, and a schedule that exists can always fire.
 */
import { z } from '@hono/zod-openapi';
import { CreateJobBody } from '../jobs/schemas.ts';

/** Public names of Temporal's overlap policies (what happens when a run is due while the previous one still runs). */
export const overlapPolicies = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;
export type OverlapPolicy = (typeof overlapPolicies)[number];

const minIntervalSeconds = 1;
const maxIntervalSeconds = 366 * 86_400;
const unitSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `30s` / `5m` / `1h` / `2d` or a number of seconds → whole seconds; undefined when malformed. */
export function parseDurationSeconds(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  const m = /^(\d+)(s|m|h|d)$/.exec(value);
  return m ? Number(m[1]) * unitSeconds[m[2]!]! : undefined;
}

const cronFields = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  // 0 and 7 are both Sunday, as in classic cron.
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
] as const;

const cronShorthands = /^@(yearly|monthly|weekly|daily|hourly)$/;

/** Why a 5-field cron expression is invalid, or undefined when it is valid. */
export function cronProblem(expr: string): string | undefined {
  const text = expr.trim();
  if (cronShorthands.test(text)) return undefined;
  const parts = text.split(/\s+/);
  if (parts.length !== 5) return `needs 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`;
  for (const [i, part] of parts.entries()) {
    const field = cronFields[i]!;
    const names: readonly string[] = 'names' in field ? field.names : [];
    const value = (token: string) => {
      const named = names.indexOf(token.toUpperCase());
      if (named >= 0) return named + field.min;
      return /^\d+$/.test(token) ? Number(token) : NaN;
    };
    for (const item of part.split(',')) {
      const m = /^(?:\*|([0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?)(?:\/(\d+))?$/.exec(item);
      if (!m) return `${field.name}: "${item}" is not a value, range or step`;
      const [, from, to, step] = m;
      const bounds = [from, to].filter((t): t is string => t !== undefined).map(value);
      if (bounds.some((v) => !(v >= field.min && v <= field.max))) return `${field.name}: "${item}" is outside ${field.min}-${field.max}`;
      if (bounds.length === 2 && bounds[0]! > bounds[1]!) return `${field.name}: "${item}" is a backwards range`;
      if (step !== undefined && Number(step) < 1) return `${field.name}: step must be at least 1`;
    }
  }
  return undefined;
}

/**
 * The canonical IANA name of a time zone (`europe/paris` → `Europe/Paris`), or
 * undefined. Offsets like `+02:00` are refused even where Intl takes them:
 * the Temporal server loads zones by IANA name only.
 */
export function canonicalTimeZone(name: string): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_+/-]*$/.test(name)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

const duration = (description: string) =>
  z.union([z.number(), z.string().max(20)]).openapi({ description, example: '5m' });

export const CreateScheduleBody = z
  .object({
    type: CreateJobBody.shape.type,
    input: CreateJobBody.shape.input,
    cron: z
      .union([z.string().max(200), z.array(z.string().max(200)).min(1).max(10)])
      .optional()
      .openapi({
        description:
          'Five-field cron (minute hour day-of-month month day-of-week) or `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly`; one or a list. A time matches when ALL fields match (day-of-month and day-of-week are not OR-ed).',
        example: '0 9 * * MON-FRI',
      }),
    interval: duration(`Every this long: seconds, or \`30s\`, \`5m\`, \`1h\`, \`1d\` (${minIntervalSeconds} s to 366 d)`).optional(),
    offset: duration('With `interval`: shift the runs by this much (less than the interval)').optional(),
    timezone: z.string().max(100).optional().openapi({ description: 'IANA time zone the cron fields are read in; default UTC', example: 'Europe/Paris' }),
    overlap: z.enum(overlapPolicies).default('skip').openapi({ description: 'What happens when a run is due while the previous one still runs' }),
    paused: z.boolean().default(false),
    note: z.string().max(500).optional().openapi({ description: 'Free text kept with the schedule (also the pause reason)' }),
    priority: CreateJobBody.shape.priority,
    labels: CreateJobBody.shape.labels,
  })
  .strict()
  .superRefine((b, ctx) => {
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if ((b.cron === undefined) === (b.interval === undefined)) {
      issue([b.cron === undefined ? 'cron' : 'interval'], 'give exactly one of cron or interval');
    }
    if (b.cron !== undefined) {
      const list = Array.isArray(b.cron) ? b.cron : [b.cron];
      list.forEach((expr, i) => {
        const problem = cronProblem(expr);
        if (problem) issue(Array.isArray(b.cron) ? ['cron', i] : ['cron'], problem);
      });
    }
    const every = b.interval === undefined ? undefined : parseDurationSeconds(b.interval);
    if (b.interval !== undefined && (every === undefined || every < minIntervalSeconds || every > maxIntervalSeconds)) {
      issue(['interval'], `like 30s, 5m, 1h, 1d or a whole number of seconds, from ${minIntervalSeconds} s to 366 d`);
    }
    if (b.offset !== undefined) {
      const offset = parseDurationSeconds(b.offset);
      if (b.interval === undefined) issue(['offset'], 'only with interval');
      else if (offset === undefined || offset < 0 || (every !== undefined && offset >= every)) issue(['offset'], 'a duration shorter than the interval');
    }
    if (b.timezone !== undefined && !canonicalTimeZone(b.timezone)) issue(['timezone'], 'not an IANA time zone name such as Europe/Paris or UTC');
  })
  .openapi('CreateSchedule');
export type CreateScheduleRequest = z.infer<typeof CreateScheduleBody>;

export const ScheduleNoteBody = z
  .object({ note: z.string().max(500).optional().openapi({ description: 'Why: kept with the schedule and shown by GET' }) })
  .strict()
  .openapi('ScheduleNote');

export const ScheduleIdParam = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'sch_01m81ksmy97xeysea3jw5pzzq4' }),
});

export const ListSchedulesQuery = z.object({
  type: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/, 'a job type name')
    .optional(),
});

export const ScheduleSpecView = z
  .object({
    cron: z.array(z.string()).optional(),
    interval: z.number().int().optional().openapi({ description: 'Seconds' }),
    offset: z.number().int().optional().openapi({ description: 'Seconds' }),
    timezone: z.string(),
  })
  .openapi('ScheduleSpec');

export const ScheduleRun = z
  .object({
    workflowId: z.string().openapi({ description: 'Temporal names each run `<tenant>:<schedule id>-<scheduled time>`' }),
    runId: z.string(),
    scheduledAt: z.string(),
    startedAt: z.string(),
    links: z.object({ ui: z.string() }),
  })
  .openapi('ScheduleRun');

export const Schedule = z
  .object({
    id: z.string().openapi({ example: 'sch_01m81ksmy97xeysea3jw5pzzq4' }),
    type: z.string().openapi({ example: 'webhook.deliver' }),
    input: z.unknown().optional().openapi({ description: 'The job input every run gets (not in lists)' }),
    spec: ScheduleSpecView,
    overlap: z.enum(overlapPolicies),
    paused: z.boolean(),
    note: z.string().nullable(),
    priority: z.number().int().nullable(),
    labels: z.array(z.string()),
    nextRunTimes: z.array(z.string()).openapi({ description: 'Up to 10 upcoming run times; empty while paused' }),
    recentRuns: z.array(ScheduleRun).openapi({ description: 'Up to 10 latest runs, newest first (manual triggers included)' }),
    createdAt: z.string(),
    links: z.object({ self: z.string(), ui: z.string() }),
  })
  .openapi('Schedule');

export const ScheduleList = z.object({ items: z.array(Schedule) }).openapi('ScheduleList');
