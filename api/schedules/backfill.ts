/**
 * `POST /v1/schedules/{id}/backfill`: run the runs a schedule would have made
 * in a past time range (after an outage, a pause, or a schedule created late),
 * through Temporal's own schedule backfill. The runs are counted first with
 * `ListScheduleMatchingTimes` over the same range, so a call is bounded
 * (`maxBackfillRuns`) and a dry run answers the count without starting anything.
 *
 * Temporal would start a range's runs again if asked twice (a closed run's id
 * may be reused), so a call with an `Idempotency-Key` is recorded in the audit
 * log with its key and a repeat within a day answers the first one's result
 * instead of backfilling again.
 */
import { z } from '@hono/zod-openapi';
import { and, desc as newestFirst, eq, gt, inArray, sql } from 'drizzle-orm';
import { msToTs, tsToDate } from '@temporalio/common/lib/time.js';
import { auditedEffect } from '../../db/audit.ts';
import { auditEvents } from '../../db/schema/index.ts';
import type { TenantCaller } from '../http/auth.ts';
import { ProblemError } from '../http/problems.ts';
import { timestamp } from '../http/schemas.ts';
import { auditEntry, type JobServiceDeps } from '../jobs/service.ts';
import { overlapPolicies, type OverlapPolicy } from './schemas.ts';
import { describeOwn, guardGone, toTemporalOverlap } from './service.ts';

/** Runs one call may start: a bigger range is refused with the count, to be split by the caller. */
export const maxBackfillRuns = 500;
/** How long an Idempotency-Key of a backfill is remembered (the audit log is where it is). */
const keyMemoryMs = 24 * 3600_000;
/** The longest range one call may cover (a `* * * * *` cron over a year is half a million runs to count). */
const maxRangeDays = 366;

export const BackfillBody = z
  .object({
    from: timestamp.openapi({ description: 'Start of the range (exclusive, like Temporal’s backfill)', example: '2026-12-01T00:00:00Z' }),
    to: timestamp.openapi({ description: 'End of the range (inclusive); not in the future', example: '2026-12-02T00:00:00Z' }),
    overlap: z
      .enum(overlapPolicies)
      .optional()
      .openapi({ description: 'What happens when a backfilled run is due while an earlier one still runs (default: the schedule’s own policy; `allow_all` runs them all at once)' }),
    dryRun: z.boolean().default(false).openapi({ description: 'Only count the runs (and list their times); start nothing' }),
  })
  .strict()
  .refine((b) => Date.parse(b.from) < Date.parse(b.to), { message: 'must be after from', path: ['to'] })
  .refine((b) => Date.parse(b.to) <= Date.now() + 1000, { message: 'must not be in the future (the schedule itself runs those)', path: ['to'] })
  .refine((b) => Date.parse(b.to) - Date.parse(b.from) <= maxRangeDays * 86_400_000, { message: `the range may span at most ${maxRangeDays} days`, path: ['to'] })
  .openapi('ScheduleBackfill');

export const BackfillResult = z
  .object({
    scheduleId: z.string(),
    from: z.string(),
    to: z.string(),
    overlap: z.enum(overlapPolicies),
    dryRun: z.boolean(),
    runs: z.number().int().openapi({ description: 'Runs in the range: started (or, in a dry run, that would be), before the overlap policy skips any' }),
    runTimes: z.array(z.string()).openapi({ description: 'Their scheduled times, oldest first; each run’s workflow id is `<tenant>:<schedule id>-<time>` (empty in a replay)' }),
    replay: z.boolean().openapi({ description: 'True when an earlier call with the same Idempotency-Key did this backfill (nothing was started now)' }),
  })
  .openapi('ScheduleBackfillResult');

export type BackfillRequest = z.infer<typeof BackfillBody>;
export type BackfillView = z.infer<typeof BackfillResult>;

export async function backfillSchedule(
  deps: JobServiceDeps,
  caller: TenantCaller,
  scheduleId: string,
  req: BackfillRequest,
  idempotencyKey: string | undefined,
  requestId: string,
): Promise<BackfillView> {
  const desc = await describeOwn(deps, caller, scheduleId);
  const earlier = idempotencyKey ? await earlierBackfill(deps, caller, scheduleId, idempotencyKey) : undefined;
  if (earlier) {
    const same = earlier.from === new Date(req.from).toISOString() && earlier.to === new Date(req.to).toISOString() && (req.overlap ?? earlier.overlap) === earlier.overlap;
    if (!same) throw new ProblemError('idempotency-key-reused', `Idempotency-Key "${idempotencyKey}" was used for another backfill of schedule ${scheduleId}`, { scheduleId });
    return earlier;
  }
  const overlap = req.overlap ?? desc.memo.jobplane.overlap;
  const from = new Date(req.from);
  const to = new Date(req.to);
  const { startTime } = await deps.client.workflowService.listScheduleMatchingTimes({
    namespace: deps.config.temporalNamespace,
    scheduleId: desc.scheduleId,
    startTime: msToTs(from.getTime()),
    endTime: msToTs(to.getTime()),
  });
  const runTimes = (startTime ?? []).map((t) => tsToDate(t).toISOString());
  if (runTimes.length > maxBackfillRuns) {
    throw new ProblemError('validation-error', `the range holds ${runTimes.length} runs; one backfill may start at most ${maxBackfillRuns}: split the range`, {
      errors: [{ path: 'to', message: `at most ${maxBackfillRuns} runs per call (this range: ${runTimes.length})` }],
    });
  }
  const view: BackfillView = { scheduleId, from: from.toISOString(), to: to.toISOString(), overlap, dryRun: req.dryRun, runs: runTimes.length, runTimes, replay: false };
  if (req.dryRun || runTimes.length === 0) return view;
  const entry = auditEntry(caller, 'schedule.backfill', scheduleId, requestId, { from: view.from, to: view.to, overlap, runs: view.runs, idempotencyKey: idempotencyKey ?? null });
  await auditedEffect(deps.db, entry, () =>
    guardGone(scheduleId, () => deps.client.schedule.getHandle(desc.scheduleId).backfill({ start: from, end: to, overlap: toTemporalOverlap(overlap) })),
  );
  return view;
}

/** The backfill an earlier call with this key made (pending counts: its effect may have happened), as its view. */
async function earlierBackfill(deps: JobServiceDeps, caller: TenantCaller, scheduleId: string, idempotencyKey: string): Promise<BackfillView | undefined> {
  const [row] = await deps.db
    .select({ detail: auditEvents.detail })
    .from(auditEvents)
    .where(
      and(
        eq(auditEvents.tenantId, caller.tenantId),
        gt(auditEvents.createdAt, new Date(Date.now() - keyMemoryMs)),
        eq(auditEvents.action, 'schedule.backfill'),
        eq(auditEvents.target, scheduleId),
        inArray(auditEvents.outcome, ['succeeded', 'pending']),
        sql`${auditEvents.detail}->>'idempotencyKey' = ${idempotencyKey}`,
      ),
    )
    .orderBy(newestFirst(auditEvents.id))
    .limit(1);
  if (!row) return undefined;
  const d = row.detail as { from: string; to: string; overlap: OverlapPolicy; runs: number };
  return { scheduleId, from: d.from, to: d.to, overlap: d.overlap, dryRun: false, runs: d.runs, runTimes: [], replay: true };
}
