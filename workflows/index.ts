/** Workflow bundle entry: every job workflow type, exported by the name its contract declares. */
export { webhookDeliverWorkflow } from './webhook-deliver.ts';
