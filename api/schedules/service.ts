/**
 * Schedules: Temporal owns them (spec, state, next and recent runs), so
 * nothing is stored in Postgres but the audit log. A schedule's Temporal id is
 * `<tenant>:<schedule id>`, so two tenants never collide and another
 * tenant's id simply does not exist for the caller (404, like an unknown id).
 * What the API needs back that Temporal does not echo (the cron text as
 * written, overlap and creation time for lists, the request hash for
 * Idempotency-Key) travels in the schedule's memo.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleOverlapPolicy,
  type ScheduleSummary,
  type Workflow,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { searchAttributes } from '../../contracts/search-attributes.ts';
import { temporalScheduleIdFor } from '../../contracts/workflow-ids.ts';
import { taskQueueName, webUiLink } from '../../runtime/temporal.ts';
import type { TenantCaller } from '../http/auth.ts';
import { assertCreateInScope, assertScheduleVisible, outsideScope } from '../http/key-scope.ts';
import { canonicalJson, sha256Hex } from '../../runtime/canonical-json.ts';
import { keyedId, newId } from '../../runtime/ids.ts';
import { scheduleIdPattern } from '../../contracts/ids.ts';
import { auditedEffect } from '../../db/audit.ts';
import { auditEntry, publicContractFor, type JobServiceDeps } from '../jobs/service.ts';
import { fieldErrors, ProblemError } from '../http/problems.ts';
import { visibilityOf } from '../limits/visibility.ts';
import {
  canonicalTimeZone,
  parseDurationSeconds,
  type CreateScheduleRequest,
  type OverlapPolicy,
} from './schemas.ts';

/** What the memo of every schedule this API creates holds (`v` guards future changes of the shape). */
interface ScheduleMemo {
  v: 1;
  type: string;
  cron?: string[];
  interval?: number;
  offset?: number;
  timezone: string;
  overlap: OverlapPolicy;
  priority: number | null;
  labels: string[];
  createdAt: string;
  requestHash: string;
}

export interface ScheduleView {
  id: string;
  type: string;
  input?: unknown;
  spec: { cron?: string[]; interval?: number; offset?: number; timezone: string };
  overlap: OverlapPolicy;
  paused: boolean;
  note: string | null;
  priority: number | null;
  labels: string[];
  nextRunTimes: string[];
  recentRuns: { workflowId: string; runId: string; scheduledAt: string; startedAt: string; links: { ui: string } }[];
  createdAt: string;
  links: { self: string; ui: string };
}

/**
 * The 1.24 SDK's action type omits `priority`, but its encoder forwards the
 * field to the server and `describe()` returns it, so it is typed in here.
 */
type StartAction = ScheduleOptionsStartWorkflowAction<Workflow> & Pick<WorkflowStartOptions, 'priority'>;

/** Our overlap name → Temporal's (`buffer_one` → `BUFFER_ONE`). */
export const toTemporalOverlap = (o: OverlapPolicy) => o.toUpperCase() as Exclude<ScheduleOverlapPolicy, undefined>;
/** Random, time-sortable id; with an Idempotency-Key, derived from it so a retried create lands on the same schedule. */
function scheduleIdFor(tenantId: string, idempotencyKey: string | undefined): string {
  return idempotencyKey ? keyedId('schedule', `${tenantId}\n${idempotencyKey}`) : newId('schedule');
}

/**
 * The caller's schedule description, or 404 — also for a malformed id, another
 * tenant's schedule and one whose jobs (type, labels) are outside the key's scope.
 */
export async function describeOwn(deps: JobServiceDeps, caller: TenantCaller, scheduleId: string): Promise<ScheduleDescription & { memo: { jobplane: ScheduleMemo } }> {
  const notFound = new ProblemError('not-found', `no schedule ${scheduleId}`);
  if (!scheduleIdPattern.test(scheduleId)) throw notFound;
  try {
    const desc = await deps.client.schedule.getHandle(temporalScheduleIdFor(caller.tenantId, scheduleId)).describe();
    // A schedule made outside the API (no memo) is not one the API can show or manage.
    if (!isOurs(desc)) throw notFound;
    assertScheduleVisible(caller, scheduleId, desc.memo.jobplane);
    return desc;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw notFound;
    throw err;
  }
}

function isOurs<T extends { memo?: Record<string, unknown> }>(s: T): s is T & { memo: { jobplane: ScheduleMemo } } {
  return (s.memo?.jobplane as ScheduleMemo | undefined)?.v === 1;
}

function toView(deps: JobServiceDeps, s: (ScheduleSummary | ScheduleDescription) & { memo: { jobplane: ScheduleMemo } }): ScheduleView {
  const m = s.memo.jobplane;
  const id = s.scheduleId.slice(s.scheduleId.indexOf(':') + 1);
  const { temporalUiUrl, temporalNamespace, publicUrl } = deps.config;
  const args = 'action' in s && s.action && 'args' in s.action ? (s.action.args as { input?: unknown }[] | undefined) : undefined;
  return {
    id,
    type: m.type,
    ...(args?.[0] ? { input: args[0].input } : {}),
    spec: { ...(m.cron ? { cron: m.cron } : { interval: m.interval, offset: m.offset }), timezone: m.timezone },
    overlap: m.overlap,
    paused: s.state.paused,
    note: s.state.note || null,
    priority: m.priority,
    labels: m.labels,
    // Temporal still computes times for a paused schedule; none of them will run until it is unpaused.
    nextRunTimes: s.state.paused ? [] : s.info.nextActionTimes.map((d) => d.toISOString()),
    recentRuns: [...s.info.recentActions].reverse().map((a) => ({
      workflowId: a.action.workflow.workflowId,
      runId: a.action.workflow.firstExecutionRunId,
      scheduledAt: a.scheduledAt.toISOString(),
      startedAt: a.takenAt.toISOString(),
      links: { ui: webUiLink(deps.config, a.action.workflow.workflowId, a.action.workflow.firstExecutionRunId) },
    })),
    createdAt: m.createdAt,
    links: {
      self: `${publicUrl}/v1/schedules/${id}`,
      ui: `${temporalUiUrl}/namespaces/${encodeURIComponent(temporalNamespace)}/schedules/${encodeURIComponent(s.scheduleId)}`,
    },
  };
}

export async function createSchedule(
  deps: JobServiceDeps,
  caller: TenantCaller,
  req: CreateScheduleRequest,
  idempotencyKey: string | undefined,
  requestId: string,
): Promise<{ view: ScheduleView; created: boolean }> {
  const contract = publicContractFor(req.type);
  // A schedule creates jobs of one type with its labels: a scoped key may only schedule jobs it could create.
  assertCreateInScope(caller, req.type, req.labels);
  // Checked now, not at fire time: a schedule must never start jobs that cannot run.
  const parsed = contract.input.safeParse(req.input);
  if (!parsed.success) {
    throw new ProblemError('validation-error', `input does not match the ${req.type} schema`, { errors: fieldErrors(parsed.error, 'input') });
  }
  const scheduleId = scheduleIdFor(caller.tenantId, idempotencyKey);
  const temporalId = temporalScheduleIdFor(caller.tenantId, scheduleId);
  const cron = req.cron === undefined ? undefined : (Array.isArray(req.cron) ? req.cron : [req.cron]).map((c) => c.trim());
  const memo: ScheduleMemo = {
    v: 1,
    type: req.type,
    ...(cron ? { cron } : { interval: parseDurationSeconds(req.interval!)!, offset: req.offset === undefined ? 0 : parseDurationSeconds(req.offset)! }),
    timezone: canonicalTimeZone(req.timezone ?? 'UTC')!,
    overlap: req.overlap,
    priority: req.priority ?? null,
    labels: req.labels ?? [],
    createdAt: new Date().toISOString(),
    requestHash: sha256Hex(canonicalJson(req)),
  };
  const tenantAttributes = [
    { key: searchAttributes.tenantId, value: caller.tenantId },
    { key: searchAttributes.jobType, value: req.type },
  ];
  const meta = { tenantId: caller.tenantId, jobId: scheduleId };
  const action: StartAction = {
    type: 'startWorkflow',
    workflowType: contract.workflowType,
    // Temporal appends the scheduled time to this id for each run: `<tenant>:<sch_…>-2026-01-01T09:00:00Z`.
    workflowId: temporalId,
    taskQueue: taskQueueName(deps.config, contract.taskQueue),
    // Args are fixed for every run, so `jobId` cannot name the run. `scheduleId` marks the envelope as one run
    // of many: the workflow should take its job id from its own workflow id (unique per run, stable across
    // retries and resets). Until it does, `jobId` is the schedule id, the least harmful fallback (shared by runs).
    args: [{ ...meta, scheduleId, input: parsed.data }],
    workflowExecutionTimeout: contract.executionTimeout,
    // Same fairness as POST /v1/jobs: the tenant is the fairness key.
    priority: { fairnessKey: caller.tenantId, ...(req.priority ? { priorityKey: req.priority } : {}) },
    typedSearchAttributes: [...tenantAttributes, ...(memo.labels.length > 0 ? [{ key: searchAttributes.jobLabels, value: memo.labels }] : [])],
    staticSummary: contract.summary(parsed.data, meta),
    staticDetails: `**${contract.type}** run of schedule \`${scheduleId}\` of tenant \`${caller.tenantId}\`\n\nAPI: ${deps.config.publicUrl}/v1/schedules/${scheduleId}`,
  };
  const entry = auditEntry(caller, 'schedule.create', scheduleId, requestId, { type: req.type, idempotencyKey: idempotencyKey ?? null });
  const create = async (): Promise<'created' | 'exists'> => {
    try {
      await deps.client.schedule.create({
        scheduleId: temporalId,
        spec: cron
          ? { cronExpressions: cron, timezone: memo.timezone }
          : { intervals: [{ every: memo.interval! * 1000, offset: memo.offset! * 1000 }], timezone: memo.timezone },
        action,
        policies: { overlap: toTemporalOverlap(req.overlap) },
        state: { paused: req.paused, ...(req.note ? { note: req.note } : {}) },
        // On the schedule itself, so `GET /v1/schedules` lists a tenant's schedules with one visibility query.
        typedSearchAttributes: tenantAttributes,
        memo: { jobplane: memo },
      });
      return 'created';
    } catch (err) {
      // The same key again: a replay of the first call changes nothing; the same key for another body is 409.
      if (err instanceof ScheduleAlreadyRunning && idempotencyKey) {
        const existing = await describeOwn(deps, caller, scheduleId);
        if (existing.memo.jobplane.requestHash !== memo.requestHash) {
          throw new ProblemError('idempotency-key-reused', `Idempotency-Key "${idempotencyKey}" was used for schedule ${scheduleId} with a different body`, { scheduleId });
        }
        return 'exists';
      }
      // The SDK raises TypeError for the server's INVALID_ARGUMENT: a timetable our checks let through.
      if (err instanceof TypeError) throw new ProblemError('validation-error', err.message, { errors: [{ path: '(body)', message: err.message }] });
      throw err;
    }
  };
  const outcome = await auditedEffect(deps.db, entry, create, (o) => (o === 'exists' ? { replay: true } : {}));
  return { view: toView(deps, await describeOwn(deps, caller, scheduleId)), created: outcome === 'created' };
}

export async function getSchedule(deps: JobServiceDeps, caller: TenantCaller, scheduleId: string): Promise<ScheduleView> {
  return toView(deps, await describeOwn(deps, caller, scheduleId));
}

/** The tenant's schedules, newest first (bounded: one page of visibility, which is 1000 schedules). */
export async function listSchedules(deps: JobServiceDeps, caller: TenantCaller, filter: { type?: string }): Promise<ScheduleView[]> {
  // Both values are pattern-checked (tenant ids are `ten_<hex>`, type by the query schema), so quoting is safe.
  const query = `TenantId = "${caller.tenantId}"${filter.type ? ` AND JobType = "${filter.type}"` : ''}`;
  const items: ScheduleView[] = [];
  // One visibility call: a page of 1000 schedules.
  await visibilityOf(deps).call('schedules', async (client) => {
    for await (const summary of client.schedule.list({ query, pageSize: 1000 })) {
      // A scoped key sees only schedules of jobs it may see (schedules live in Temporal, so filtered here).
      if (isOurs(summary) && !outsideScope(caller.scope, summary.memo.jobplane.type, summary.memo.jobplane.labels)) items.push(toView(deps, summary));
      if (items.length >= 1000) break;
    }
  });
  return items.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

export type ScheduleCommand = 'pause' | 'unpause' | 'trigger';

/** Pause, unpause or run now (trigger respects the schedule's overlap policy, not Temporal's ALLOW_ALL default). */
export async function commandSchedule(
  deps: JobServiceDeps,
  caller: TenantCaller,
  scheduleId: string,
  command: ScheduleCommand,
  note: string | undefined,
  requestId: string,
): Promise<ScheduleView> {
  const desc = await describeOwn(deps, caller, scheduleId);
  const handle = deps.client.schedule.getHandle(desc.scheduleId);
  // Temporal needs a non-empty note to pause or unpause; the default says who did it.
  const why = note || `${command === 'pause' ? 'paused' : 'unpaused'} through the API by key ${caller.keyId}`;
  await auditedEffect(deps.db, auditEntry(caller, `schedule.${command}`, scheduleId, requestId, note ? { note } : undefined), () =>
    guardGone(scheduleId, async () => {
      if (command === 'pause') await handle.pause(why);
      else if (command === 'unpause') await handle.unpause(why);
      else await handle.trigger(desc.policies.overlap);
    }),
  );
  return await getSchedule(deps, caller, scheduleId);
}

export async function deleteSchedule(deps: JobServiceDeps, caller: TenantCaller, scheduleId: string, requestId: string): Promise<void> {
  const desc = await describeOwn(deps, caller, scheduleId);
  await auditedEffect(deps.db, auditEntry(caller, 'schedule.delete', scheduleId, requestId, { type: desc.memo.jobplane.type }), () =>
    guardGone(scheduleId, () => deps.client.schedule.getHandle(desc.scheduleId).delete()),
  );
}

/** A schedule deleted between our describe and the change is a 404 too. */
export async function guardGone(scheduleId: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new ProblemError('not-found', `no schedule ${scheduleId}`);
    throw err;
  }
}
