import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { EncryptionCodec, parseCodecKeys } from './codec.ts';
import { ConfigError, type Config } from './config.ts';
import { failureConverter } from './failure-converter.ts';
import { workflowClientInterceptors } from './tracing.ts';

/** Path of the failure converter module, for the workflow bundle and workers. */
export const failureConverterPath = fileURLToPath(new URL('./failure-converter.ts', import.meta.url));

/** The payload codec from config; API and workers refuse to run without keys (the server must never see plaintext). */
export function codecFrom(config: Pick<Config, 'codecKeys' | 'codecCurrentKey'>): EncryptionCodec {
  if (!config.codecKeys) throw new ConfigError('JOBPLANE_CODEC_KEYS is not set: payloads cannot be encrypted');
  try {
    return new EncryptionCodec(parseCodecKeys(config.codecKeys, config.codecCurrentKey));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Data converter of every Client: encrypted payloads, encoded failure messages. */
export function clientDataConverter(codec: EncryptionCodec) {
  return { payloadCodecs: [codec], failureConverter };
}

/** Opens a client connection to the configured Temporal frontend, with the payload codec and trace propagation (a no-op while tracing is off). */
export async function connectClient(
  config: Pick<Config, 'temporalAddress' | 'temporalNamespace' | 'codecKeys' | 'codecCurrentKey'>,
): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporalAddress });
  return new Client({
    connection,
    namespace: config.temporalNamespace,
    dataConverter: clientDataConverter(codecFrom(config)),
    interceptors: { workflow: workflowClientInterceptors() },
  });
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
