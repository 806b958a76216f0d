/** Reads a job's execution state from Temporal (the source of truth) and shapes the API view. */
import {
  ActivityFailure,
  ApplicationFailure,
  ChildWorkflowFailure,
  TemporalFailure,
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import type { jobs } from '../db/schema/index.ts';
import type { Config } from '../runtime/config.ts';
import { webUiLink } from '../runtime/temporal.ts';

export const jobStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'terminated', 'timed_out'] as const;
export type JobStatus = (typeof jobStatuses)[number];

export interface JobError {
  /** Stable failure type (e.g. `WebhookRejected`, `Terminated`, `TimedOut`). */
  type: string;
  message: string;
}

export interface JobView {
  id: string;
  type: string;
  status: JobStatus;
  workflowId: string;
  runId: string | null;
  result?: unknown;
  error?: JobError;
  createdAt: string;
  finishedAt?: string;
  links: { self: string; ui: string };
}

type JobRow = typeof jobs.$inferSelect;

const closedStatus: Record<string, JobStatus> = {
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timed_out',
};

/** A run nobody has picked up yet: started + workflow task scheduled (+ maybe started), nothing completed. */
const queuedHistoryLength = 3;

function statusOf(desc: WorkflowExecutionDescription): JobStatus {
  const name = desc.status.name;
  if (closedStatus[name]) return closedStatus[name];
  return desc.historyLength <= queuedHistoryLength ? 'queued' : 'running';
}

/** The innermost failure with a type a user can act on. */
export function errorOf(err: unknown): JobError {
  let cur: unknown = err instanceof WorkflowFailedError ? err.cause : err;
  while (cur instanceof ActivityFailure || cur instanceof ChildWorkflowFailure) cur = cur.cause ?? cur;
  if (cur instanceof ApplicationFailure) return { type: cur.type ?? 'Error', message: cur.message };
  if (cur instanceof TemporalFailure) return { type: cur.name.replace(/Failure$/, ''), message: cur.message };
  return { type: 'Error', message: cur instanceof Error ? cur.message : String(cur) };
}

/**
 * The view of a job whose workflow this request has just started: it cannot
 * have run yet, so it is `queued` without asking Temporal again (one round
 * trip less on the hot path of `POST /v1/jobs`).
 */
export function justStartedJob(config: Pick<Config, 'publicUrl' | 'temporalUiUrl' | 'temporalNamespace'>, row: JobRow): JobView {
  return {
    id: row.id,
    type: row.type,
    status: 'queued',
    workflowId: row.workflowId,
    runId: row.firstRunId,
    createdAt: row.createdAt.toISOString(),
    links: { self: `${config.publicUrl}/v1/jobs/${row.id}`, ui: webUiLink(config, row.workflowId, row.firstRunId ?? undefined) },
  };
}

export async function describeJob(
  client: Client,
  config: Pick<Config, 'publicUrl' | 'temporalUiUrl' | 'temporalNamespace'>,
  row: JobRow,
): Promise<JobView> {
  const base = {
    id: row.id,
    type: row.type,
    workflowId: row.workflowId,
    createdAt: row.createdAt.toISOString(),
    links: { self: `${config.publicUrl}/v1/jobs/${row.id}`, ui: webUiLink(config, row.workflowId, row.firstRunId ?? undefined) },
  };
  if (!row.firstRunId) return { ...base, status: 'queued', runId: null };

  const handle = client.workflow.getHandle(row.workflowId);
  let desc: WorkflowExecutionDescription;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) {
      return { ...base, status: 'failed', runId: row.firstRunId, error: { type: 'HistoryExpired', message: 'the run is older than the namespace retention' } };
    }
    throw err;
  }
  const view: JobView = {
    ...base,
    status: statusOf(desc),
    runId: desc.runId,
    links: { ...base.links, ui: webUiLink(config, row.workflowId, desc.runId) },
    ...(desc.closeTime ? { finishedAt: desc.closeTime.toISOString() } : {}),
  };
  if (view.status === 'succeeded') {
    view.result = await handle.result();
  } else if (desc.closeTime) {
    view.error = await handle.result().then(
      () => ({ type: 'Error', message: 'run closed without a result' }),
      errorOf,
    );
  }
  return view;
}
