/** Workflow bundle entry: every job workflow type, exported by the name its contract declares. */
export { approvalRequestWorkflow } from './approval-request.ts';
export { batchRunWorkflow } from './batch-run.ts';
export { noopWorkflow } from './noop.ts';
export { webhookDeliverWorkflow } from './webhook-deliver.ts';
export { documentIngestWorkflow } from './document-ingest.ts';
export { documentRetentionWorkflow } from './document-retention.ts';
export { debounceWorkflow } from './debounce.ts';
