/**
 * Reading closed job runs from Temporal visibility, one page per call, on
 * the watcher's own budget. Visibility is rate-limited per namespace (about
 * 10 calls/s per frontend on a real cluster, shared with the API and the Web
 * UI) and the SDK's default connection retries a throttled call silently, so
 * the watcher lists on a connection that never retries RESOURCE_EXHAUSTED:
 * the watcher sees the refusal, logs it and backs off (watcher.ts).
 */
import { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { catalogTaskQueues } from '../../contracts/index.ts';
import type { Config } from '../../runtime/config.ts';
import { connectWithoutThrottleRetries, taskQueueName } from '../../runtime/temporal.ts';

/** A run that closed, as visibility lists it. */
export interface ClosedRun {
  workflowId: string;
  runId: string;
  /** The SDK's status name: `COMPLETED`, `FAILED`, `CANCELLED`, `TERMINATED`, `TIMED_OUT`, `CONTINUED_AS_NEW`. */
  executionStatus: string;
  closedAt: Date;
  /** The server's size of the run's history in bytes, and its event count (0 where the server does not say). */
  historySizeBytes: number;
  historyLength: number;
}

/** A protobuf int64 (a number or a Long) as a number; 0 when unset. */
export function longToNumber(n: number | { toNumber(): number } | null | undefined): number {
  if (n === null || n === undefined) return 0;
  return typeof n === 'number' ? n : n.toNumber();
}

const statusEnum = proto.temporal.api.enums.v1.WorkflowExecutionStatus;
const statusPrefix = 'WORKFLOW_EXECUTION_STATUS_';

/** Proto enum → the SDK's name (the proto spells `CANCELED`, the SDK `CANCELLED`). */
function statusName(status: temporal.api.enums.v1.WorkflowExecutionStatus | null | undefined): string {
  const name = (statusEnum[status ?? 0] ?? 'UNSPECIFIED').replace(statusPrefix, '');
  return name === 'CANCELED' ? 'CANCELLED' : name;
}

/** A protobuf Timestamp (`seconds` may be a Long) in milliseconds. */
export function timestampMs(ts: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null | undefined): number | undefined {
  if (!ts?.seconds) return undefined;
  return longToNumber(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/**
 * The visibility query of runs that closed in `(from, to]` on this
 * environment's job queues: scoped by task queue, so environments and test
 * stacks sharing a namespace (JOBPLANE_TASK_QUEUE_PREFIX) each see their own.
 */
export function closedRunsQuery(config: Pick<Config, 'taskQueuePrefix'>, from: Date, to: Date): string {
  const queues = catalogTaskQueues.map((q) => `'${taskQueueName(config, q)}'`).join(', ');
  return `ExecutionStatus != 'Running' AND CloseTime > '${from.toISOString()}' AND CloseTime <= '${to.toISOString()}' AND TaskQueue IN (${queues})`;
}

export interface ClosedRunsPage {
  runs: ClosedRun[];
  /** Empty when this was the last page. */
  nextPageToken: Uint8Array;
}

/** One visibility call: a page of the executions `query` lists, as the server sends them. */
export async function listExecutionsPage(
  client: Client,
  query: string,
  opts: { pageSize: number; nextPageToken?: Uint8Array | undefined; timeoutMs: number },
): Promise<{ executions: temporal.api.workflow.v1.IWorkflowExecutionInfo[]; nextPageToken: Uint8Array }> {
  const res = await client.withDeadline(Date.now() + opts.timeoutMs, () =>
    client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: opts.pageSize,
      ...(opts.nextPageToken?.length ? { nextPageToken: opts.nextPageToken } : {}),
    }),
  );
  return { executions: res.executions ?? [], nextPageToken: res.nextPageToken ?? new Uint8Array() };
}

/** One visibility call: a page of the closed runs `query` lists. */
export async function listClosedRunsPage(
  client: Client,
  query: string,
  opts: { pageSize: number; nextPageToken?: Uint8Array | undefined; timeoutMs: number },
): Promise<ClosedRunsPage> {
  const page = await listExecutionsPage(client, query, opts);
  const runs: ClosedRun[] = [];
  for (const e of page.executions) {
    const closedAt = timestampMs(e.closeTime);
    if (!e.execution?.workflowId || !e.execution.runId || closedAt === undefined) continue;
    runs.push({
      workflowId: e.execution.workflowId,
      runId: e.execution.runId,
      executionStatus: statusName(e.status),
      closedAt: new Date(closedAt),
      historySizeBytes: longToNumber(e.historySizeBytes),
      historyLength: longToNumber(e.historyLength),
    });
  }
  return { runs, nextPageToken: page.nextPageToken };
}

/**
 * A client for the watcher's list calls: it retries an unavailable frontend
 * briefly, never a throttled call. The caller closes `client.connection`.
 */
export async function connectListingClient(config: Config): Promise<Client> {
  const connection = await connectWithoutThrottleRetries(config);
  // Listing decodes no payloads: no data converter needed.
  return new Client({ connection, namespace: config.temporalNamespace });
}
