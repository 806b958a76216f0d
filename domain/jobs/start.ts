/**
 * Starting a job's workflow: the one start path the API (`POST /v1/jobs`,
 * uploads, retries) and the workers (events a workflow emits as jobs) share.
 * Idempotent: the workflow id is derived from tenant and job id, a concurrent
 * start joins the open run, and a closed run is never started again.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { JobContract } from '../../contracts/index.ts';
import type { JobRow } from '../../db/schema/index.ts';
import type { Config } from '../../runtime/config.ts';
import { searchAttributes } from '../../contracts/search-attributes.ts';
import { taskQueueName } from '../../runtime/temporal.ts';

/** Starts (or finds) the run of a job row and returns its first run id. */
export async function startJobWorkflow(
  deps: { client: Client; config: Pick<Config, 'taskQueuePrefix' | 'publicUrl'> },
  contract: JobContract,
  row: JobRow,
  input: unknown,
  delayMs = 0,
): Promise<string> {
  const meta = { tenantId: row.tenantId, jobId: row.id };
  try {
    const handle = await deps.client.workflow.start(contract.workflowType, {
      taskQueue: taskQueueName(deps.config, contract.taskQueue),
      workflowId: row.workflowId,
      args: [{ ...meta, input }],
      // Concurrent starts of one job share the open run; a closed run is never started again.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowExecutionTimeout: contract.executionTimeout,
      ...(delayMs > 0 ? { startDelay: delayMs } : {}),
      // The tenant is the fairness key: one tenant's flood cannot starve another's jobs.
      priority: { fairnessKey: row.tenantId, ...(row.priority ? { priorityKey: row.priority } : {}) },
      typedSearchAttributes: [
        { key: searchAttributes.tenantId, value: row.tenantId },
        { key: searchAttributes.jobType, value: row.type },
        { key: searchAttributes.jobId, value: row.id },
        ...(row.labels.length > 0 ? [{ key: searchAttributes.jobLabels, value: row.labels }] : []),
      ],
      staticSummary: contract.summary(input, meta),
      staticDetails: `**${contract.type}** job \`${row.id}\` of tenant \`${row.tenantId}\`\n\nAPI: ${deps.config.publicUrl}/v1/jobs/${row.id}`,
    });
    return handle.firstExecutionRunId;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const desc = await deps.client.workflow.getHandle(row.workflowId).describe();
    return desc.raw.workflowExecutionInfo?.firstRunId || desc.runId;
  }
}
