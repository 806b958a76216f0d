import { Client, Connection } from '@temporalio/client';
import type { Config } from './config.ts';

/** Opens a client connection to the configured Temporal frontend. */
export async function connectClient(config: Pick<Config, 'temporalAddress' | 'temporalNamespace'>): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporalAddress });
  return new Client({ connection, namespace: config.temporalNamespace });
}

/** The task queue a job contract's queue maps to in this environment. */
export function taskQueueName(config: Pick<Config, 'taskQueuePrefix'>, queue: string): string {
  return `${config.taskQueuePrefix}${queue}`;
}

/** Workflow id of a job: tenant first, so two tenants can never collide. */
export function workflowIdFor(tenantId: string, jobId: string): string {
  return `${tenantId}:${jobId}`;
}

/** Deep link to a workflow run in the Temporal Web UI. */
export function webUiLink(config: Pick<Config, 'temporalUiUrl' | 'temporalNamespace'>, workflowId: string, runId?: string): string {
  const base = `${config.temporalUiUrl}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}
