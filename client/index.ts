/**
 * The typed TypeScript client of the Jobplane HTTP API, for product services:
 *
 * ```ts
 * import { JobplaneClient } from 'jobplane/client';
 * const jobs = new JobplaneClient({ baseUrl: 'https://jobs.example.com', apiKey: process.env.JOBPLANE_API_KEY! });
 * const { job } = await jobs.createJob({ type: 'webhook.deliver', input: { url, payload } }, { idempotencyKey: orderId });
 * const done = await jobs.waitForResult(job); // done.result?.statusCode
 * ```
 *
 * It imports nothing of the server at run time: types come from the API's
 * zod schemas and the job contracts through `import type`.
 */
export {
  JobplaneClient,
  type CreateJobOptions,
  type CreateJobResult,
  type CreateScheduleOptions,
  type JobplaneClientOptions,
  type WaitOptions,
} from './jobplane-client.ts';
export { JobplaneProblemError, JobplaneWaitTimeoutError, parseRetryAfter, problemTypeBase } from './errors.ts';
export type * from './types.ts';
// The transactional outbox (docs/OUTBOX.md): a job request inserted in the service's own transaction.
export {
  enqueueJob,
  ensureOutboxTable,
  outboxTableSql,
  defaultOutboxTable,
  outboxJobRequestSchema,
  OutboxTableNameError,
  OutboxTransactionRequiredError,
  OutboxValidationError,
  type EnqueueJobOptions,
  type EnqueuedJob,
  type NodePgDatabase,
  type OutboxDatabase,
  type OutboxIssue,
  type OutboxJobRequest,
  type OutboxTableOptions,
  type PostgresJsDatabase,
} from './outbox/index.ts';
