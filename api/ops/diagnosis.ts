/**
 * Why a job looks stuck, from Temporal alone: `describe()` of the run (pending
 * workflow task and activities with their attempts and last failures), plus
 * the tail of the history when a workflow task is failing. `GET /v1/ops/stuck`
 * runs this over the tenant's running jobs; `GET /v1/jobs/{id}/diagnosis` over one.
 */
import { WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
// The proto package is CommonJS: Node's ESM loader sees only its default export.
import proto from '@temporalio/proto';
import type { z } from 'zod';
import type { Config } from '../../runtime/config.ts';
import { searchAttributes } from '../../contracts/search-attributes.ts';
import { webUiLink } from '../../runtime/temporal.ts';
import { findJobContract } from '../../contracts/index.ts';
import { jobIdPattern } from '../../contracts/ids.ts';
import { statusOf } from '../jobs/view.ts';
import { adviceFor, commandsFor } from './commands.ts';
import { decodeFailure, temporalProblem, workflowTaskTail, type DecodedFailure } from './history.ts';
import { stuckReasons, type JobDiagnosis, type PendingActivity, type StuckReason } from './schemas.ts';
import { visibilityOf } from '../limits/visibility.ts';
import { ProblemError } from '../http/problems.ts';
import { parseDurationSeconds } from '../schedules/schemas.ts';

export type Diagnosis = z.infer<typeof JobDiagnosis>;
type Activity = z.infer<typeof PendingActivity>;

export interface OpsDeps {
  client: Client;
  /** The client for visibility calls (see visibility.ts). @default client */
  visibilityClient?: Client;
  config: Config;
}

export interface StuckCriteria {
  /** A pending activity at this attempt or later is `activity-retrying`. */
  minAttempts: number;
  /** A run older than this is `overdue`. */
  olderThanMs: number;
}

/** Temporal's own search attribute: the build ids of the workers that completed the run's workflow tasks. */
const buildIdsKey = defineSearchAttributeKey('BuildIds', SearchAttributeType.KEYWORD_LIST);
/** At most this many describes in flight while scanning. */
const scanConcurrency = 8;

// protobufjs enums map numbers back to names too.
const activityStates = proto.temporal.api.enums.v1.PendingActivityState as unknown as Record<number, string | undefined>;
const workflowTaskStates = proto.temporal.api.enums.v1.PendingWorkflowTaskState as unknown as Record<number, string | undefined>;
/** `PENDING_ACTIVITY_STATE_SCHEDULED` → `scheduled`. */
const stateName = (table: Record<number, string | undefined>, value: number | null | undefined, prefix: string) =>
  (table[value ?? 0] ?? '').replace(prefix, '').toLowerCase() || 'unknown';
const toDate = (ts: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  ts?.seconds != null ? new Date(Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6)) : null;

/** Looks at one run: its pending work, attempts and failures, and which stuck reasons apply. */
export async function diagnoseRun(deps: OpsDeps, workflowId: string, criteria: StuckCriteria, now = Date.now()): Promise<Diagnosis> {
  let desc: WorkflowExecutionDescription;
  try {
    desc = await deps.client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ProblemError('not-found', `no run of ${workflowId} (older than the retention?)`);
    temporalProblem(err, `no run of ${workflowId}`);
  }
  const raw = desc.raw;
  const running = desc.status.name === 'RUNNING';

  const wft = raw.pendingWorkflowTask;
  const tail = running && wft ? await workflowTaskTail(deps.client, workflowId, desc.runId) : { failed: false, failure: null };
  const wftFailure = tail.failure;
  const workflowTask = wft
    ? { state: stateName(workflowTaskStates, wft.state, 'PENDING_WORKFLOW_TASK_STATE_'), attempt: wft.attempt ?? 1, lastFailure: wftFailure }
    : null;

  const pendingActivities: Activity[] = await Promise.all(
    (raw.pendingActivities ?? []).map(async (a) => ({
      activityId: a.activityId ?? '',
      activityType: a.activityType?.name ?? '',
      state: stateName(activityStates, a.state, 'PENDING_ACTIVITY_STATE_'),
      attempt: a.attempt ?? 1,
      maximumAttempts: a.maximumAttempts ?? 0,
      lastFailure: await decodeFailure(deps.client, a.lastFailure),
      nextAttemptAt: toDate(a.nextAttemptScheduleTime)?.toISOString() ?? null,
    })),
  );

  const startedAt = desc.executionTime && desc.executionTime > desc.startTime ? desc.executionTime : desc.startTime;
  const runningMs = Math.max(0, (desc.closeTime?.getTime() ?? now) - startedAt.getTime());
  const worstActivity = pendingActivities.reduce<Activity | undefined>((w, a) => (!w || a.attempt > w.attempt ? a : w), undefined);

  const reasons: StuckReason[] = [];
  // Attempt 2+ means the task failed or timed out and is being retried; a history ending in
  // WorkflowTaskFailed catches the first failure before its retry shows up.
  if (running && workflowTask && (workflowTask.attempt >= 2 || tail.failed)) reasons.push('workflow-task-failing');
  if (running && worstActivity && worstActivity.attempt > 1 && worstActivity.attempt >= criteria.minAttempts) reasons.push('activity-retrying');
  if (running && startedAt.getTime() <= now && runningMs > criteria.olderThanMs) reasons.push('overdue');
  const reason = reasons[0] ?? null;

  let attempts = Math.max(workflowTask?.attempt ?? 0, worstActivity?.attempt ?? 0);
  let lastFailure: DecodedFailure | null = wftFailure ?? worstActivity?.lastFailure ?? null;
  if (reason === 'workflow-task-failing') [attempts, lastFailure] = [workflowTask!.attempt, wftFailure];
  if (reason === 'activity-retrying') [attempts, lastFailure] = [worstActivity!.attempt, worstActivity!.lastFailure];

  const typed = desc.typedSearchAttributes;
  const sawJobId = typed.get(searchAttributes.jobId);
  const jobId = sawJobId && jobIdPattern.test(sawJobId) ? sawJobId : null;
  const buildIds = [...new Set((typed.get(buildIdsKey) ?? []).map((b) => b.replace(/^(unversioned|versioned|assigned):/, '')).filter((b) => b !== 'unversioned'))];

  return {
    jobId,
    type: typed.get(searchAttributes.jobType) ?? desc.type,
    workflowId,
    runId: desc.runId,
    status: statusOf(desc),
    reason,
    reasons,
    advice: adviceFor(reason, workflowTask?.state),
    attempts,
    lastFailure,
    startedAt: startedAt.toISOString(),
    runningSeconds: Math.floor(runningMs / 1000),
    buildIds,
    workflowTask,
    pendingActivities,
    links: { ui: webUiLink(deps.config, workflowId, desc.runId), job: jobId ? `${deps.config.publicUrl}/v1/jobs/${jobId}` : null },
    commands: commandsFor(deps, workflowId, jobId, reason),
  };
}

export interface StuckQueryInput {
  minAttempts: number;
  olderThan: string;
  type?: string;
  limit: number;
}

/** Visibility-query literal; ids and names here never hold quotes, but a query is no place to find out. */
export function queryLiteral(value: string): string {
  if (/["'\\]/.test(value)) throw new ProblemError('validation-error', `"${value}" cannot be used in a visibility query`);
  return `"${value}"`;
}

/**
 * The tenant's running jobs that look stuck, most severe first: visibility
 * query for the tenant's running workflows (at most `limit`), then one
 * describe each, `scanConcurrency` at a time.
 */
export async function findStuck(deps: OpsDeps, tenantId: string, q: StuckQueryInput) {
  if (q.type && !findJobContract(q.type)) {
    throw new ProblemError('validation-error', `unknown job type "${q.type}"`, { errors: [{ path: 'query.type', message: 'not a job type of the catalog' }] });
  }
  const criteria = { minAttempts: q.minAttempts, olderThanMs: parseDurationSeconds(q.olderThan)! * 1000 };
  const query = `TenantId = ${queryLiteral(tenantId)} AND ExecutionStatus = "Running"${q.type ? ` AND JobType = ${queryLiteral(q.type)}` : ''}`;
  const workflowIds: string[] = [];
  let truncated = false;
  // One visibility call: the limit is at most 1000 (the query schema), one page.
  await visibilityOf(deps).call('running jobs', async (client) => {
    for await (const info of client.workflow.list({ query, pageSize: Math.min(q.limit + 1, 1000) })) {
      if (workflowIds.length === q.limit) {
        truncated = true;
        break;
      }
      workflowIds.push(info.workflowId);
    }
  });

  const now = Date.now();
  const found: Diagnosis[] = [];
  let next = 0;
  const lane = async () => {
    while (next < workflowIds.length) {
      const id = workflowIds[next++]!;
      try {
        // A deadline per run (not the request's): a scan of many runs takes longer than one call may.
        const d = await deps.client.withDeadline(Date.now() + deps.config.temporalCallTimeoutMs, () => diagnoseRun(deps, id, criteria, now));
        if (d.reason) found.push(d);
      } catch (err) {
        // A run that vanished between the list and the describe is not stuck.
        if (!(err instanceof ProblemError && err.slug === 'not-found')) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(scanConcurrency, workflowIds.length) }, lane));
  const rank = (d: Diagnosis) => stuckReasons.indexOf(d.reason!);
  found.sort((a, b) => rank(a) - rank(b) || a.startedAt.localeCompare(b.startedAt));
  return { items: found, scanned: workflowIds.length, truncated };
}
