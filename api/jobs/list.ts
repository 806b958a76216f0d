/**
 * `GET /v1/jobs`: newest first, keyset-paginated on the job id (ids sort by
 * creation time, so pages stay stable while jobs are being created). Rows
 * come from Postgres; status comes from Temporal's visibility store in one
 * query per page, so a listed status is never a stale copy.
 */
import { and, arrayContains, desc, eq, gt, isNotNull, isNull, lt, type SQL } from 'drizzle-orm';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Db } from '../../db/client.ts';
import { jobs } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import type { TenantCaller } from '../http/auth.ts';
import { jobScopeConditions } from '../http/key-scope.ts';
import { jobIdPattern } from '../../contracts/ids.ts';
import { baseView, withExecution, type JobStatus, type JobView } from './view.ts';
import { ProblemError } from '../http/problems.ts';
import { visibilityOf } from '../limits/visibility.ts';
import type { JobRow } from '../../db/schema/index.ts';

export interface ListJobsFilter {
  type?: string;
  status?: JobStatus;
  label?: string;
  createdAfter?: string;
  createdBefore?: string;
  scheduleId?: string;
  /** `'true'`: only jobs no other job started. */
  root?: 'true' | 'false';
  /** Only the children of this job (`GET /v1/jobs/{id}/children`). */
  parentJobId?: string;
  limit: number;
  cursor?: string;
}

/** With a status filter, rows are scanned in batches until the page is full or this many were looked at. */
const maxScannedRows = 1000;
/** Visibility calls one list request may make (one per batch of rows): the rest of a scan continues at `nextCursor`. */
export const maxVisibilityCallsPerList = 3;

export function encodeCursor(jobId: string): string {
  return Buffer.from(jobId).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!jobIdPattern.test(id)) {
    throw new ProblemError('validation-error', 'bad cursor', { errors: [{ path: 'query.cursor', message: 'not a cursor this API returned' }] });
  }
  return id;
}

export async function listJobs(
  deps: { db: Db; client: Client; visibilityClient?: Client; config: Config },
  caller: TenantCaller,
  filter: ListJobsFilter,
): Promise<{ items: JobView[]; nextCursor: string | null }> {
  // Claims whose workflow has not started are not jobs yet (see createJob).
  // A scoped key lists only the jobs it may see, filtered in SQL so keyset pages stay full and stable.
  const conditions: SQL[] = [eq(jobs.tenantId, caller.tenantId), isNotNull(jobs.firstRunId), ...jobScopeConditions(caller)];
  if (filter.type) conditions.push(eq(jobs.type, filter.type));
  if (filter.label) conditions.push(arrayContains(jobs.labels, [filter.label]));
  if (filter.createdAfter) conditions.push(gt(jobs.createdAt, new Date(filter.createdAfter)));
  if (filter.createdBefore) conditions.push(lt(jobs.createdAt, new Date(filter.createdBefore)));
  if (filter.scheduleId) conditions.push(eq(jobs.scheduleId, filter.scheduleId));
  if (filter.parentJobId) conditions.push(eq(jobs.parentJobId, filter.parentJobId));
  if (filter.root === 'true') conditions.push(isNull(jobs.parentWorkflowId));

  let after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  const items: JobView[] = [];
  let scanned = 0;
  let visibilityCalls = 0;
  // Without a status filter one batch of `limit + 1` rows is the page; with one, keep scanning.
  const batch = filter.status ? Math.max(filter.limit * 2, 50) : filter.limit + 1;
  for (;;) {
    const rows = await deps.db
      .select()
      .from(jobs)
      .where(and(...conditions, ...(after ? [lt(jobs.id, after)] : [])))
      .orderBy(desc(jobs.id))
      .limit(batch);
    visibilityCalls++;
    const views = await withStatuses(deps, rows);
    for (const [i, view] of views.entries()) {
      scanned++;
      after = rows[i]!.id;
      if (filter.status && view.status !== filter.status) continue;
      if (items.length === filter.limit) return { items, nextCursor: encodeCursor(items.at(-1)!.id) };
      items.push(view);
    }
    const exhausted = rows.length < batch;
    if (exhausted) return { items, nextCursor: null };
    if (scanned >= maxScannedRows || visibilityCalls >= maxVisibilityCallsPerList) return { items, nextCursor: encodeCursor(after!) };
  }
}

/** One visibility query for the whole page: `WorkflowId IN (...)`, within the visibility budget. */
async function withStatuses(deps: { client: Client; visibilityClient?: Client; config: Config }, rows: JobRow[]): Promise<JobView[]> {
  const infos = new Map<string, WorkflowExecutionInfo>();
  if (rows.length > 0) {
    const ids = rows.map((r) => `'${r.workflowId.replace(/'/g, '')}'`).join(', ');
    await visibilityOf(deps).call('job statuses', async (client) => {
      // Several runs of one id (after a reset) come newest first: keep the first seen. One page: ids × runs stays small.
      for await (const info of client.workflow.list({ query: `WorkflowId IN (${ids})`, pageSize: rows.length * 2 })) {
        if (!infos.has(info.workflowId)) infos.set(info.workflowId, info);
      }
    });
  }
  return rows.map((row) => {
    const view = baseView(deps.config, row);
    const info = infos.get(row.workflowId);
    return info ? withExecution(view, info, deps.config) : view;
  });
}
