import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection, makeGrpcRetryInterceptor, type TLSConfig } from '@temporalio/client';
import { grpcStatus } from './grpc-status.ts';
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

/** The settings that say how to reach the Temporal frontend. */
export type TemporalConnectionConfig = Pick<
  Config,
  | 'temporalAddress'
  | 'temporalTls'
  | 'temporalTlsServerCaCertPath'
  | 'temporalTlsClientCertPath'
  | 'temporalTlsClientKeyPath'
  | 'temporalTlsServerName'
  | 'temporalApiKey'
>;

/** What both `Connection.connect` (API, tools) and `NativeConnection.connect` (workers) take. */
export interface TemporalConnectionOptions {
  address: string;
  /** `undefined` = plaintext (the dev server). */
  tls?: TLSConfig;
  apiKey?: string;
}

/**
 * Connection options from config, the same variables the `temporal` CLI reads
 * (so on-call's CLI and the platform reach a cluster the same way). TLS is on
 * when asked for, or in `auto` mode when an API key or any certificate path is
 * set; certificate files are read once here and a missing one fails start-up
 * naming its variable.
 */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const { temporalTlsClientCertPath: certPath, temporalTlsClientKeyPath: keyPath, temporalTlsServerCaCertPath: caPath } = config;
  if (Boolean(certPath) !== Boolean(keyPath)) {
    throw new ConfigError('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together (mTLS needs both)');
  }
  const anyTlsSetting = Boolean(certPath || caPath || config.temporalTlsServerName || config.temporalApiKey);
  const tlsOn = config.temporalTls === 'true' || (config.temporalTls === 'auto' && anyTlsSetting);
  if (!tlsOn && config.temporalApiKey) {
    // An API key over plaintext would hand the key to anyone on the path.
    throw new ConfigError('TEMPORAL_API_KEY is set but TEMPORAL_TLS=false: API keys are only sent over TLS');
  }
  const options: TemporalConnectionOptions = { address: config.temporalAddress };
  if (config.temporalApiKey) options.apiKey = config.temporalApiKey;
  if (!tlsOn) return options;
  const tls: TLSConfig = {};
  if (caPath) tls.serverRootCACertificate = readPem('TEMPORAL_TLS_SERVER_CA_CERT_PATH', caPath);
  if (certPath && keyPath) {
    tls.clientCertPair = { crt: readPem('TEMPORAL_TLS_CLIENT_CERT_PATH', certPath), key: readPem('TEMPORAL_TLS_CLIENT_KEY_PATH', keyPath) };
  }
  if (config.temporalTlsServerName) tls.serverNameOverride = config.temporalTlsServerName;
  options.tls = tls;
  return options;
}

function readPem(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${variable}=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** Opens a client connection to the configured Temporal frontend, with the payload codec and trace propagation (a no-op while tracing is off). */
export async function connectClient(
  config: TemporalConnectionConfig & Pick<Config, 'temporalNamespace' | 'codecKeys' | 'codecCurrentKey'>,
): Promise<Client> {
  const connection = await Connection.connect(temporalConnectionOptions(config));
  return new Client({
    connection,
    namespace: config.temporalNamespace,
    dataConverter: clientDataConverter(codecFrom(config)),
    interceptors: { workflow: workflowClientInterceptors() },
  });
}

/**
 * A connection for visibility calls (list, count): it retries an unavailable
 * frontend briefly but never a throttled call (RESOURCE_EXHAUSTED), which the
 * default connection retries with back-off until the deadline; the caller
 * budgets and backs off itself. Used by the API's visibility client and the
 * workers' job-end watcher.
 */
export async function connectWithoutThrottleRetries(config: TemporalConnectionConfig): Promise<Connection> {
  return await Connection.connect({
    ...temporalConnectionOptions(config),
    interceptors: [
      makeGrpcRetryInterceptor({
        retryableDecider: (attempt, status) => attempt < 3 && status.code === grpcStatus.UNAVAILABLE,
        delayFunction: (attempt) => 100 * 2 ** attempt,
      }),
    ],
  });
}

/** The task queue a job contract's queue maps to in this environment. */
export function taskQueueName(config: Pick<Config, 'taskQueuePrefix'>, queue: string): string {
  return `${config.taskQueuePrefix}${queue}`;
}

/** Deep link to a workflow run in the Temporal Web UI. */
export function webUiLink(config: Pick<Config, 'temporalUiUrl' | 'temporalNamespace'>, workflowId: string, runId?: string): string {
  const base = `${config.temporalUiUrl}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}/history` : base;
}
