/** One Worker per task queue of the job catalog, all sharing one connection and one workflow bundle. */
import { Client } from '@temporalio/client';
import { type NativeConnection, Runtime, Worker, type WorkerOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { catalogTaskQueues } from '../contracts/index.ts';
import { createActivities, type Activities, type ActivityDeps } from '../activities/index.ts';
import { parseAllowlist } from '../domain/outbound/destination-guard.ts';
import { createOpenAiClassifier } from '../activities/documents/classifier-openai.ts';
import { rulesClassifier, type Classifier } from '../activities/documents/classifier.ts';
import { blobStoreFrom } from '../domain/blob-store/factory.ts';
import type { Config } from '../runtime/config.ts';
import { ConfigError } from '../runtime/config.ts';
import { startJobWorkflow } from '../domain/jobs/start.ts';
import { createLogger } from '../runtime/logger.ts';
import { clientDataConverter, codecFrom, failureConverterPath, taskQueueName } from '../runtime/temporal.ts';
import { codeVersion } from './code-version.ts';
import { workerTracingOptions } from '../runtime/tracing.ts';
import type { Db } from '../db/client.ts';
import { activityMeteringInterceptor } from './usage/activity-metering.ts';

export interface CreateWorkersOptions {
  config: Config;
  db: Db;
  connection: NativeConnection;
  workflowBundle: WorkflowBundleWithSourceMap | { codePath: string };
  /** Tests only: wraps the activities (e.g. to inject a failure after a real activity ran). */
  wrapActivities?: (activities: Activities) => Activities;
}

/** The document classifier the config asks for (`JOBPLANE_CLASSIFIER_*`). */
export function classifierFrom(config: Config): Classifier {
  if (config.classifierProvider === 'rules') return rulesClassifier;
  const log = createLogger('classifier', config.logLevel);
  return createOpenAiClassifier({
    baseUrl: config.classifierBaseUrl,
    model: config.classifierModel,
    apiKey: config.classifierApiKey,
    timeoutMs: config.classifierTimeoutMs,
    maxAttempts: config.classifierMaxAttempts,
    maxInputChars: config.classifierMaxInputChars,
    log: (message, fields) => log.warn(fields, message),
  });
}

/**
 * Activity dependencies from config; fails fast on what a delivery cannot work without.
 * `client` starts the jobs activities emit (document events).
 */
export function activityDepsFrom(config: Config, db: Db, client: Client): ActivityDeps {
  if (!config.webhookSigningSecret) {
    throw new ConfigError('JOBPLANE_WEBHOOK_SIGNING_SECRET is not set: webhooks cannot be signed');
  }
  return {
    db,
    webhook: {
      signingSecret: config.webhookSigningSecret,
      allowlist: parseAllowlist(config.webhookAllowedHosts),
      timeoutMs: config.webhookTimeoutMs,
    },
    documents: {
      blobs: blobStoreFrom(config),
      classifier: classifierFrom(config),
      codeVersion: codeVersion(config.codeVersion),
      maxBytes: config.documentMaxBytes,
      chunkChars: config.documentChunkChars,
      extraction: {
        maxTextChars: config.documentMaxTextChars,
        maxInflatedBytes: config.documentMaxInflatedBytes,
        maxPages: config.documentMaxPages,
        timeoutMs: config.documentExtractTimeoutMs,
        memoryMb: config.documentExtractMemoryMb,
      },
      publicUrl: config.publicUrl,
      startJob: (contract, row, input) => startJobWorkflow({ client, config }, contract, row, input),
    },
  };
}

/** Payloads leave and enter the worker encrypted; the workflow bundle must carry the same failure converter. */
export function workerDataConverter(config: Config) {
  return { payloadCodecs: [codecFrom(config)], failureConverterPath };
}

/** The catalog queues this process polls (`JOBPLANE_WORKER_TASK_QUEUES`), so each queue class can scale on its own. */
export function selectedTaskQueues(config: Pick<Config, 'workerTaskQueues'>): string[] {
  const wanted = config.workerTaskQueues.split(',').map((q) => q.trim()).filter(Boolean);
  if (wanted.length === 0) return [...catalogTaskQueues];
  const unknown = wanted.filter((q) => !catalogTaskQueues.includes(q));
  if (unknown.length > 0) throw new ConfigError(`JOBPLANE_WORKER_TASK_QUEUES: unknown queue(s) ${unknown.join(', ')}; the catalog has ${catalogTaskQueues.join(', ')}`);
  return wanted;
}

/**
 * How a worker gets its task slots (`JOBPLANE_WORKER_TUNER`): a fixed number of
 * activity slots, or the SDK's resource-based tuner for every slot kind. The
 * two cannot be combined: a tuner excludes the `maxConcurrent*` options.
 */
export function workerSlotOptions(
  config: Pick<Config, 'workerTuner' | 'workerMaxConcurrentActivities' | 'workerTargetMemory' | 'workerTargetCpu'>,
): Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'tuner'> {
  if (config.workerTuner === 'resource') {
    return { tuner: { tunerOptions: { targetMemoryUsage: config.workerTargetMemory, targetCpuUsage: config.workerTargetCpu } } };
  }
  return { maxConcurrentActivityTaskExecutions: config.workerMaxConcurrentActivities };
}

export async function createWorkers(opts: CreateWorkersOptions): Promise<Worker[]> {
  const queues = selectedTaskQueues(opts.config);
  // Activities start jobs (document events) through a client on the worker's own connection.
  const client = new Client({ connection: opts.connection, namespace: opts.config.temporalNamespace, dataConverter: clientDataConverter(codecFrom(opts.config)) });
  const created = createActivities(activityDepsFrom(opts.config, opts.db, client));
  const activities = opts.wrapActivities ? opts.wrapActivities(created) : created;
  const dataConverter = workerDataConverter(opts.config);
  // Activity spans and the sink for the bundle's workflow spans; no-ops until tracing is installed.
  const tracing = workerTracingOptions();
  // Every attempt's wall time and CPU share, for what jobs cost (docs/USAGE.md).
  const metering = activityMeteringInterceptor({ db: opts.db, log: createLogger('usage', opts.config.logLevel), meter: Runtime.instance().metricMeter });
  const interceptors = { ...tracing.interceptors, activity: [...tracing.interceptors.activity, metering] };
  return await Promise.all(
    queues.map((queue) =>
      Worker.create({
        connection: opts.connection,
        namespace: opts.config.temporalNamespace,
        taskQueue: taskQueueName(opts.config, queue),
        workflowBundle: opts.workflowBundle,
        activities,
        dataConverter,
        ...tracing,
        interceptors,
        ...workerSlotOptions(opts.config),
        // SIGTERM waits this long for in-flight activities before cancelling them.
        shutdownGraceTime: opts.config.workerShutdownGraceMs,
      }),
    ),
  );
}
