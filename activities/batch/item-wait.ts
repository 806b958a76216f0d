/**
 * After a reset, a batch may reach an item whose child a run before the
 * reset already started: the child id is never reused, so the start is
 * refused. This activity waits for that child's outcome with the worker's own
 * client instead, heartbeating, so the item is neither started twice nor lost.
 */
import { Context } from '@temporalio/activity';
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  TemporalFailure,
  WorkflowFailedError,
} from '@temporalio/client';
import type { BatchItemOutcome } from '../../contracts/index.ts';

const heartbeatEveryMs = 10_000;

export function createBatchItemWaitActivities() {
  async function awaitBatchItem({ workflowId }: { workflowId: string }): Promise<BatchItemOutcome> {
    const ctx = Context.current();
    const timer = setInterval(() => ctx.heartbeat(), heartbeatEveryMs);
    try {
      await ctx.client.workflow.getHandle(workflowId).result();
      return { status: 'succeeded' };
    } catch (err) {
      let cur: unknown = err instanceof WorkflowFailedError ? err.cause : err;
      while ((cur instanceof ChildWorkflowFailure || cur instanceof ActivityFailure) && cur.cause) cur = cur.cause;
      if (cur instanceof CancelledFailure) return { status: 'cancelled' };
      if (cur instanceof ApplicationFailure) return { status: 'failed', type: cur.type ?? 'Error', message: cur.message };
      if (cur instanceof TemporalFailure) return { status: 'failed', type: cur.name.replace(/Failure$/, ''), message: cur.message };
      throw err;
    } finally {
      clearInterval(timer);
    }
  }
  return { awaitBatchItem };
}
