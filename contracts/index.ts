/** The job catalog: every job type the platform runs. */
import type { JobCatalogShape, JobContract } from './job-contract.ts';
import { approvalRequest } from './approval-request.ts';
import { defineBatchRun } from './batch-run.ts';
import { documentIngest } from './document-ingest.ts';
import { noop } from './noop.ts';
import { webhookDeliver } from './webhook-deliver.ts';
import { jobEventTypes } from './job-events.ts';

export * from './job-contract.ts';
export * from './approval-request.ts';
export * from './batch-run.ts';
export * from './noop.ts';
export * from './webhook-deliver.ts';
export * from './document-ingest.ts';
export * from './job-events.ts';

/** Events tenants can subscribe endpoints to: the document pipeline's and the job-end events. */
export const webhookEventTypes = ['document.ingested', ...jobEventTypes] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/**
 * Job types a batch may run over: every public type but `batch.run` itself.
 * Keys are the contracts' own `type`, so a key cannot drift from its contract.
 */
const batchItemJobs = {
  [webhookDeliver.type]: webhookDeliver,
  [approvalRequest.type]: approvalRequest,
  [noop.type]: noop,
} satisfies JobCatalogShape;

export const batchRun = defineBatchRun(batchItemJobs);

/** Job types a tenant starts with `POST /v1/jobs` and schedules. */
const publicJobs = {
  ...batchItemJobs,
  [batchRun.type]: batchRun,
} satisfies JobCatalogShape;

/** Job types the platform starts itself (their contract sets `internal`). */
const internalJobs = {
  [documentIngest.type]: documentIngest,
} satisfies JobCatalogShape;

/**
 * The public catalog with each contract's literal type: the typed client's
 * `JobInputs` / `JobOutputs` (client/types.ts) are mapped from it, so a new
 * public job type reaches the client without restating its schemas.
 */
export type PublicJobCatalog = typeof publicJobs;
/** Type names of the public catalog (`'webhook.deliver' | … | 'batch.run'`). */
export type PublicJobType = keyof PublicJobCatalog;

/** Lookup by any string (an item's `jobType`, a request's `type`); see `batchItemJobs`. */
export const batchItemCatalog: JobCatalogShape = batchItemJobs;

/** Every job type the platform runs, public then internal: lookup by any string (`findJobContract`). */
export const jobCatalog: JobCatalogShape = { ...publicJobs, ...internalJobs };

/** Task queues workers must poll: one per distinct contract queue. */
export const catalogTaskQueues: readonly string[] = [...new Set(Object.values(jobCatalog).map((c) => c.taskQueue))];

export function findJobContract(type: string): JobContract | undefined {
  return Object.hasOwn(jobCatalog, type) ? jobCatalog[type] : undefined;
}

/** The environment's task-queue prefix, read off a run's own queue (workflows cannot read config). */
export function taskQueuePrefixOf(runTaskQueue: string, contract: Pick<JobContract, 'taskQueue'>): string {
  return runTaskQueue.endsWith(contract.taskQueue) ? runTaskQueue.slice(0, -contract.taskQueue.length) : '';
}
export * from './workflow-ids.ts';
export * from './ids.ts';
