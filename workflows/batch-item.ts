/**
 * One batch item as a child workflow: deterministic id, the tenant's search
 * attributes, and what its failure means for the batch. Used by
 * `workflows/batch-run.ts`.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  executeChild,
  proxyActivities,
  TemporalFailure,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { Activities } from '../activities/index.ts';
import type { BatchItemOutcome, JobContract } from '../contracts/index.ts';
import { searchAttributes } from '../contracts/search-attributes.ts';
import { workflowIdFor } from '../contracts/workflow-ids.ts';

/** Waiting for an item another run of this batch started (after a reset): as long as the item may run, heartbeating. */
const { awaitBatchItem } = proxyActivities<Activities>({
  startToCloseTimeout: '32 days',
  heartbeatTimeout: '1 minute',
  // No attempt limit: the item's own timeout bounds the wait.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export interface ItemRef {
  tenantId: string;
  batchJobId: string;
  index: number;
  round: number;
  item: unknown;
}

/** `job_…/17` for the first pass, `job_…/17/r2` for the second retry: a retry never collides with the run it retries. */
export function itemJobId(ref: Pick<ItemRef, 'batchJobId' | 'index' | 'round'>): string {
  return ref.round === 0 ? `${ref.batchJobId}/${ref.index}` : `${ref.batchJobId}/${ref.index}/r${ref.round}`;
}

/**
 * Runs one item to its outcome. The child id is derived from the batch job,
 * tenant first, and is never reused (REJECT_DUPLICATE): a batch that is reset
 * to before an item started finds the earlier child instead of starting it
 * again, and waits for that child's outcome through an activity.
 */
export async function runItem(contract: JobContract, taskQueue: string, ref: ItemRef): Promise<BatchItemOutcome> {
  const jobId = itemJobId(ref);
  const workflowId = workflowIdFor(ref.tenantId, jobId);
  try {
    await executeChild(contract.workflowType, {
      workflowId,
      taskQueue,
      args: [{ tenantId: ref.tenantId, jobId, input: ref.item }],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowExecutionTimeout: contract.executionTimeout,
      // The Web UI filters items like any job, and by batch: JobLabels = "batch=job_…".
      typedSearchAttributes: [
        { key: searchAttributes.tenantId, value: ref.tenantId },
        { key: searchAttributes.jobType, value: contract.type },
        { key: searchAttributes.jobId, value: jobId },
        { key: searchAttributes.jobLabels, value: [`batch=${ref.batchJobId}`] },
      ],
      staticSummary: `item ${ref.index}${ref.round ? ` (retry ${ref.round})` : ''} of batch ${ref.batchJobId}: ${contract.summary(ref.item as never, { tenantId: ref.tenantId, jobId })}`,
      priority: { fairnessKey: ref.tenantId },
    });
    return { status: 'succeeded' };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return await awaitBatchItem({ workflowId });
    return outcomeOfFailure(err);
  }
}

/** A failed child's outcome: cancelled, or failed with the innermost failure type a user can act on. */
export function outcomeOfFailure(err: unknown): BatchItemOutcome {
  let cur: unknown = err;
  while ((cur instanceof ChildWorkflowFailure || cur instanceof ActivityFailure) && cur.cause) cur = cur.cause;
  if (cur instanceof CancelledFailure) return { status: 'cancelled' };
  if (cur instanceof ApplicationFailure) return { status: 'failed', type: cur.type ?? 'Error', message: cur.message };
  if (cur instanceof TemporalFailure) return { status: 'failed', type: cur.name.replace(/Failure$/, ''), message: cur.message };
  // Not a Temporal failure (a bug): the batch counts the item as failed with type `Error` (see batch-run.ts `start`).
  throw err;
}
