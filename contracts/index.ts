/** The job catalog: every job type the platform runs. */
import type { JobContract } from './job-contract.ts';
import { approvalRequest } from './approval-request.ts';
import { defineBatchRun } from './batch-run.ts';
import { documentIngest } from './document-ingest.ts';
import { noop } from './noop.ts';
import { webhookDeliver } from './webhook-deliver.ts';

export * from './job-contract.ts';
export * from './approval-request.ts';
export * from './batch-run.ts';
export * from './noop.ts';
export * from './webhook-deliver.ts';
export * from './document-ingest.ts';

/**
 * Job types a batch may run over: every public type but `batch.run` itself.
 * Internal types (`document.ingest`) are started by the platform only.
 */
export const batchItemCatalog: Readonly<Record<string, JobContract>> = {
  [webhookDeliver.type]: webhookDeliver as unknown as JobContract,
  [approvalRequest.type]: approvalRequest as unknown as JobContract,
  [noop.type]: noop as unknown as JobContract,
};

export const batchRun = defineBatchRun(batchItemCatalog);

export const jobCatalog: Readonly<Record<string, JobContract>> = {
  ...batchItemCatalog,
  [batchRun.type]: batchRun as unknown as JobContract,
  [documentIngest.type]: documentIngest as unknown as JobContract,
};

/** Task queues workers must poll: one per distinct contract queue. */
export const catalogTaskQueues: readonly string[] = [...new Set(Object.values(jobCatalog).map((c) => c.taskQueue))];

export function findJobContract(type: string): JobContract | undefined {
  return Object.hasOwn(jobCatalog, type) ? jobCatalog[type] : undefined;
}

/** The environment's task-queue prefix, read off a run's own queue (workflows cannot read config). */
export function taskQueuePrefixOf(runTaskQueue: string, contract: Pick<JobContract, 'taskQueue'>): string {
  return runTaskQueue.endsWith(contract.taskQueue) ? runTaskQueue.slice(0, -contract.taskQueue.length) : '';
}
