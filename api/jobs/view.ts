/** Reads a job's execution state from Temporal (the source of truth) and shapes the API view. */
import {
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import type { JobRow } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import { webUiLink } from '../../runtime/temporal.ts';
import { errorOf, type JobError } from '../../domain/jobs/errors.ts';

export { errorOf, type JobError };

export const jobStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'terminated', 'timed_out'] as const;
export type JobStatus = (typeof jobStatuses)[number];


export interface JobView {
  id: string;
  type: string;
  status: JobStatus;
  workflowId: string;
  runId: string | null;
  priority: number | null;
  labels: string[];
  retryOf: string | null;
  /** Where the job's end event is delivered, if given at create. */
  callbackUrl: string | null;
  /** The job whose workflow started this one, and the schedule that started it (workers/job-events/started-runs.ts). */
  parentJobId: string | null;
  scheduleId: string | null;
  result?: unknown;
  error?: JobError;
  createdAt: string;
  startAt?: string;
  finishedAt?: string;
  links: { self: string; ui: string };
}

type ViewConfig = Pick<Config, 'publicUrl' | 'temporalUiUrl' | 'temporalNamespace'>;

const closedStatus: Record<string, JobStatus> = {
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
};

/** A run nobody has picked up yet: started + workflow task scheduled (+ maybe started), nothing completed. */
const queuedHistoryLength = 3;

/** Maps a Temporal execution (from describe or from a visibility list) to the job status. */
export function statusOf(info: Pick<WorkflowExecutionInfo, 'status' | 'historyLength'>): JobStatus {
  const name = info.status.name;
  if (closedStatus[name]) return closedStatus[name];
  return info.historyLength <= queuedHistoryLength ? 'queued' : 'running';
}

/** The part of a view that comes from Postgres alone. */
export function baseView(config: ViewConfig, row: JobRow, runId = row.firstRunId): JobView {
  return {
    id: row.id,
    type: row.type,
    status: 'queued',
    workflowId: row.workflowId,
    runId,
    priority: row.priority,
    labels: row.labels,
    retryOf: row.retryOf,
    callbackUrl: row.callbackUrl,
    parentJobId: row.parentJobId,
    scheduleId: row.scheduleId,
    createdAt: row.createdAt.toISOString(),
    links: { self: `${config.publicUrl}/v1/jobs/${row.id}`, ui: webUiLink(config, row.workflowId, runId ?? undefined) },
  };
}

/** Adds what a visibility record or a describe says about the run (no result: that needs the history). */
export function withExecution(
  view: JobView,
  info: Pick<WorkflowExecutionInfo, 'status' | 'historyLength' | 'runId' | 'startTime' | 'executionTime' | 'closeTime'>,
  config: ViewConfig,
): JobView {
  const startAt = info.executionTime && info.executionTime > info.startTime ? info.executionTime.toISOString() : undefined;
  return {
    ...view,
    status: statusOf(info),
    runId: info.runId,
    links: { ...view.links, ui: webUiLink(config, view.workflowId, info.runId) },
    ...(startAt ? { startAt } : {}),
    ...(info.closeTime ? { finishedAt: info.closeTime.toISOString() } : {}),
  };
}

/**
 * The view of a job whose workflow this request has just started: it cannot
 * have run yet, so it is `queued` without asking Temporal again (one round
 * trip less on the hot path of `POST /v1/jobs`).
 */
export function justStartedJob(config: ViewConfig, row: JobRow, startAt?: Date): JobView {
  return { ...baseView(config, row), ...(startAt ? { startAt: startAt.toISOString() } : {}) };
}

/** Full view of one job, with its result or error once it has finished. */
export async function describeJob(client: Client, config: ViewConfig, row: JobRow): Promise<JobView> {
  const base = baseView(config, row);
  if (!row.firstRunId) return base;
  const handle = client.workflow.getHandle(row.workflowId);
  let desc: WorkflowExecutionDescription;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      return { ...base, status: 'failed', error: { type: 'HistoryExpired', message: 'the run is older than the namespace retention' } };
    }
    throw err;
  }
  const view = withExecution(base, desc, config);
  if (view.status === 'succeeded') view.result = await handle.result();
  else if (desc.closeTime) view.error = await handle.result().then(() => ({ type: 'Error', message: 'run closed without a result' }), errorOf);
  return view;
}
