/** Workflows of the raw Temporal peer: the two workloads, nothing else (bundled on its own, no interceptors, no codec). */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createRawActivities } from './temporal-raw.ts';

const { post, writeStep } = proxyActivities<ReturnType<typeof createRawActivities>>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 12 },
});

export async function peerPost1(receiverUrl: string): Promise<void> {
  await post(receiverUrl, workflowInfo().workflowId);
}

export async function peerChain10(steps: number): Promise<void> {
  const runId = workflowInfo().workflowId;
  for (let step = 1; step <= steps; step++) await writeStep(runId, step);
}
