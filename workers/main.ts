/**
 * Worker process: one Temporal worker per task queue, Prometheus metrics, the
 * job-end watcher (workers/job-events/), and graceful shutdown (SIGTERM/SIGINT stop polling and give in-flight
 * activities JOBPLANE_WORKER_SHUTDOWN_GRACE_MS to finish).
 */
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { loadConfig, requireDatabaseUrl } from '../runtime/config.ts';
import { createLogger, pinoSdkLogFunction, sdkLogLevel } from '../runtime/logger.ts';
import { installTracingFromConfig, shutdownTracing } from '../runtime/tracing.ts';
import { createDb } from '../db/client.ts';
import { Client } from '@temporalio/client';
import { documentRetention } from '../contracts/index.ts';
import { clientDataConverter, codecFrom, temporalConnectionOptions } from '../runtime/temporal.ts';
import { createWorkers, selectedTaskQueues } from './create-workers.ts';
import { ensureRetentionSchedule } from './retention-schedule.ts';
import { startHealthServer } from './health-server.ts';
import { TemporalHealthProbe } from '../runtime/temporal-health.ts';
import { loadWorkflowBundle } from './workflow-bundle.ts';
import { startJobEventWatcher } from './job-events/start.ts';

const config = loadConfig();
const log = createLogger('workers', config.logLevel);
// Before the workers exist: workflow and activity spans export over OTLP when configured.
installTracingFromConfig(config, 'jobplane-workers');

// Must run before any NativeConnection or Worker exists.
// SDK logs (worker, workflow and activity context loggers, Core) go through pino as JSON lines too.
Runtime.install({
  logger: new DefaultLogger(sdkLogLevel(config.logLevel), pinoSdkLogFunction(log)),
  telemetryOptions: config.workerMetricsAddress
    ? { metrics: { prometheus: { bindAddress: config.workerMetricsAddress } } }
    : {},
});

// Health first (answering 503 until the workers poll), so probes see a starting process, not a dead one.
let workers: Worker[] = [];
const probe: { temporal?: TemporalHealthProbe } = {};
const health = config.workerHealthAddress ? await startHealthServer(config.workerHealthAddress, () => workers, () => probe.temporal) : undefined;

const database = createDb(requireDatabaseUrl(config), { max: config.dbPoolMax, applicationName: 'jobplane-workers' });
const connection = await NativeConnection.connect(temporalConnectionOptions(config));
probe.temporal = new TemporalHealthProbe(connection, { namespace: config.temporalNamespace });
workers = await createWorkers({
  config,
  db: database.db,
  connection,
  workflowBundle: await loadWorkflowBundle(config.workflowBundlePath),
});

// The process that runs the retention workflow makes sure its Schedule exists (idempotent across replicas).
if (selectedTaskQueues(config).includes(documentRetention.taskQueue)) {
  const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter: clientDataConverter(codecFrom(config)) });
  const scheduleId = await ensureRetentionSchedule(client, config);
  log.info({ scheduleId, everySeconds: config.documentRetentionIntervalSeconds }, 'document retention schedule ensured');
}

// Job-end events (job.succeeded, …): one watcher active per namespace across processes, the others stand by.
const jobEventWatcher = config.jobEventsWatcher
  ? await startJobEventWatcher({ config, databaseUrl: requireDatabaseUrl(config), db: database.db, connection, log: log.child({ part: 'job-events' }) })
  : undefined;

let stopping = false;
function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal, graceMs: config.workerShutdownGraceMs }, 'draining workers');
  for (const w of workers) w.shutdown();
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

const running = Promise.all(workers.map((w) => w.run()));
log.info(
  { taskQueues: workers.map((w) => w.options.taskQueue), metrics: config.workerMetricsAddress || 'off', health: config.workerHealthAddress || 'off' },
  'workers polling',
);
try {
  await running;
} finally {
  // The tick in progress finishes (its deliveries are started), then the lock is released for another process.
  await jobEventWatcher?.stop().catch((err: unknown) => log.warn({ err }, 'job-end watcher did not stop cleanly'));
  await connection.close();
  await database.close();
  health?.close();
  await shutdownTracing().catch((err: unknown) => log.warn({ err }, 'could not flush traces'));
  log.info('workers stopped');
}
