/** The job catalog: every job type the platform runs. */
import type { JobContract } from './job-contract.ts';
import { approvalRequest } from './approval-request.ts';
import { documentIngest } from './document-ingest.ts';
import { webhookDeliver } from './webhook-deliver.ts';

export * from './job-contract.ts';
export * from './approval-request.ts';
export * from './webhook-deliver.ts';
export * from './document-ingest.ts';

export const jobCatalog: Readonly<Record<string, JobContract>> = {
  [webhookDeliver.type]: webhookDeliver as unknown as JobContract,
  [approvalRequest.type]: approvalRequest as unknown as JobContract,
  [documentIngest.type]: documentIngest as unknown as JobContract,
};

/** Task queues workers must poll: one per distinct contract queue. */
export const catalogTaskQueues: readonly string[] = [...new Set(Object.values(jobCatalog).map((c) => c.taskQueue))];

export function findJobContract(type: string): JobContract | undefined {
  return Object.hasOwn(jobCatalog, type) ? jobCatalog[type] : undefined;
}
