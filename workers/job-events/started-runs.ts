/**
 * Every run is a job: runs no create made — scheduled runs (backfills too),
 * batch items, an approval's notifications — get a `jobs` row from
 * visibility, registered by the job-end watcher in the same window as the
 * closed runs it reads (watcher.ts). A run qualifies when it was started by a
 * schedule (`TemporalScheduledById`) or by a parent workflow
 * (`ParentWorkflowId`) on this environment's job queues.
 *
 * The row is identity only, like every jobs row (status, result and error are
 * read from Temporal), so it cannot drift on terminate, reset, timeout or
 * continue-as-new: all keep the workflow id. Its id is derived from the
 * workflow id, so the watcher's overlap, a second watcher or a cursor set
 * back insert nothing twice; a worker crash changes nothing here (the row
 * comes from the server's record of the start, not from the worker).
 */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { inArray, sql } from 'drizzle-orm';
import { catalogTaskQueues, jobCatalog } from '../../contracts/index.ts';
import type { Db } from '../../db/client.ts';
import { jobs, tenants } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import { derivedId } from '../../runtime/ids.ts';
import { taskQueueName } from '../../runtime/temporal.ts';
import { listExecutionsPage, timestampMs } from './closed-runs.ts';

/** A run another workflow or a schedule started, as visibility lists it. */
export interface StartedRun {
  workflowId: string;
  runId: string;
  workflowType: string;
  startedAt: Date;
  parentWorkflowId: string | null;
  /** `<tenant>:<sch_…>` of the schedule that started it. */
  scheduledById: string | null;
  jobType: string | null;
  labels: string[];
}

/** Runs started in `(from, to]` by a schedule or a parent, on this environment's job queues. */
export function startedRunsQuery(config: Pick<Config, 'taskQueuePrefix'>, from: Date, to: Date): string {
  const queues = catalogTaskQueues.map((q) => `'${taskQueueName(config, q)}'`).join(', ');
  return `StartTime > '${from.toISOString()}' AND StartTime <= '${to.toISOString()}' AND TaskQueue IN (${queues}) AND (ParentWorkflowId IS NOT NULL OR TemporalScheduledById IS NOT NULL)`;
}

type RawExecution = temporal.api.workflow.v1.IWorkflowExecutionInfo;

/** A search attribute's value: Temporal encodes them as JSON payloads. */
function attribute(e: RawExecution, name: string): unknown {
  const payload = e.searchAttributes?.indexedFields?.[name];
  if (!payload?.data) return undefined;
  try {
    return JSON.parse(Buffer.from(payload.data).toString('utf8'));
  } catch {
    return undefined;
  }
}

export function startedRunOf(e: RawExecution): StartedRun | undefined {
  const startedAt = timestampMs(e.startTime);
  if (!e.execution?.workflowId || !e.execution.runId || startedAt === undefined) return undefined;
  const scheduledBy = attribute(e, 'TemporalScheduledById');
  const labels = attribute(e, 'JobLabels');
  const jobType = attribute(e, 'JobType');
  return {
    workflowId: e.execution.workflowId,
    runId: e.execution.runId,
    workflowType: e.type?.name ?? '',
    startedAt: new Date(startedAt),
    parentWorkflowId: e.parentExecution?.workflowId || null,
    scheduledById: typeof scheduledBy === 'string' ? scheduledBy : Array.isArray(scheduledBy) && typeof scheduledBy[0] === 'string' ? scheduledBy[0] : null,
    jobType: typeof jobType === 'string' ? jobType : null,
    labels: Array.isArray(labels) ? labels.filter((l): l is string => typeof l === 'string') : [],
  };
}

/** One visibility call: a page of the started runs `query` lists. */
export async function listStartedRunsPage(
  client: Client,
  query: string,
  opts: { pageSize: number; nextPageToken?: Uint8Array | undefined; timeoutMs: number },
): Promise<{ runs: StartedRun[]; nextPageToken: Uint8Array }> {
  const page = await listExecutionsPage(client, query, opts);
  return { runs: page.executions.map(startedRunOf).filter((r): r is StartedRun => r !== undefined), nextPageToken: page.nextPageToken };
}

const typeOfWorkflow = new Map(Object.values(jobCatalog).map((c) => [c.workflowType, c.type]));

/** The row id of a registered run: derived from its workflow id, so registering it again finds the same row. */
export function registeredJobId(run: Pick<StartedRun, 'workflowId' | 'startedAt'>): string {
  return derivedId('job', run.startedAt.getTime(), `run:${run.workflowId}`);
}

/** The jobs row of a run (undefined for one that is not a job: no tenant prefix, an unknown type). */
export function rowOfRun(run: StartedRun) {
  const at = run.workflowId.indexOf(':');
  const type = run.jobType ?? typeOfWorkflow.get(run.workflowType);
  if (at <= 0 || !type) return undefined;
  const tenantId = run.workflowId.slice(0, at);
  const scheduleId = run.scheduledById?.startsWith(`${tenantId}:`) ? run.scheduledById.slice(tenantId.length + 1) : null;
  return {
    id: registeredJobId(run),
    tenantId,
    type,
    requestHash: `run:${run.runId}`,
    workflowId: run.workflowId,
    firstRunId: run.runId,
    createdByKeyId: null,
    labels: run.labels,
    scheduleId,
    parentWorkflowId: run.parentWorkflowId,
    createdAt: run.startedAt,
  };
}

/** Registers the runs (first run first: a continue-as-new's later runs find the row taken); returns how many rows were new. */
export async function registerStartedRuns(db: Db, runs: readonly StartedRun[]): Promise<number> {
  const rows = [...runs]
    .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime())
    .map(rowOfRun)
    .filter((r): r is NonNullable<ReturnType<typeof rowOfRun>> => r !== undefined);
  if (rows.length === 0) return 0;
  // Runs of tenants that no longer exist (or never did) are not jobs of anyone: skipped, not an error.
  const known = new Set((await db.select({ id: tenants.id }).from(tenants).where(inArray(tenants.id, [...new Set(rows.map((r) => r.tenantId))]))).map((t) => t.id));
  const values = rows.filter((r) => known.has(r.tenantId));
  if (values.length === 0) return 0;
  // Any conflict (the id, or the workflow id a create's row already holds) means the run has its row.
  const inserted = await db.insert(jobs).values(values).onConflictDoNothing().returning({ id: jobs.id });
  // Children whose parent has a row now: link them (the parent may have been registered in this very call).
  const children = values.filter((v) => v.parentWorkflowId).map((v) => v.workflowId);
  if (children.length > 0) {
    await db.execute(sql`
      update ${jobs} as c set parent_job_id = p.id
        from ${jobs} as p
       where c.parent_workflow_id = p.workflow_id and c.parent_job_id is null and c.tenant_id = p.tenant_id
         and c.workflow_id in ${sql`(${sql.join(children.map((w) => sql`${w}`), sql`, `)})`}`);
  }
  return inserted.length;
}

