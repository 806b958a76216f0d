/**
 * The transactional outbox (docs/OUTBOX.md): a table in the product
 * service's own database, `enqueueJob()` to add a job request inside the
 * service's transaction, and a relay (`npm run outbox-relay`,
 * `client/outbox/relay/`) that turns each committed row into exactly one job.
 */
export { enqueueJob, type EnqueueJobOptions, type EnqueuedJob } from './enqueue.ts';
export { defaultOutboxTable, ensureOutboxTable, outboxTable, outboxTableSql, type OutboxTable, type OutboxTableOptions } from './table.ts';
export { outboxJobRequestSchema, type OutboxJobRequest } from './request.ts';
export type { NodePgDatabase, OutboxDatabase, PostgresJsDatabase } from './database.ts';
export { OutboxTableNameError, OutboxTransactionRequiredError, OutboxValidationError, type OutboxIssue } from './errors.ts';
