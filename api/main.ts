/** API process: Hono on Node, with graceful shutdown. */
import { loadConfig, requireDatabaseUrl } from '../runtime/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { connectClient } from '../runtime/temporal.ts';
import { installTracingFromConfig, shutdownTracing } from '../runtime/tracing.ts';
import { createDb } from '../db/client.ts';
import { serve } from '@hono/node-server';
import { parseHostPort } from '../runtime/host-port.ts';
import { TemporalHealthProbe } from '../runtime/temporal-health.ts';
import { createApp, createMetricsApp } from './app.ts';
import { createApiMetrics } from './http/metrics.ts';
import { serveApi } from './http/server.ts';
import { startClaimSweeper } from './jobs/claims.ts';
import { connectVisibilityClient } from './limits/visibility.ts';

const config = loadConfig();
const log = createLogger('api', config.logLevel);
// Before the client exists: requests, and the workflow starts they make, become traces (OTLP when configured).
installTracingFromConfig(config, 'jobplane-api');
const database = createDb(requireDatabaseUrl(config), { max: config.dbPoolMax, applicationName: 'jobplane-api' });
const client = await connectClient(config);
// List and count calls go over a connection of their own that answers a throttled call at once (api/limits/visibility.ts).
const visibilityClient = await connectVisibilityClient(config);
const temporalHealth = new TemporalHealthProbe(client.connection, { namespace: config.temporalNamespace });
const metrics = createApiMetrics({ client, config, temporalHealth });
const app = createApp({ config, db: database.db, client, visibilityClient, log, temporalHealth, metrics });
const sweeper = startClaimSweeper({ db: database.db, client, config, log });

const server = serveApi(app.fetch, { port: config.port, hostname: config.host, timeouts: config }, (info) => {
  log.info({ url: `http://${config.host}:${info.port}` }, 'api listening');
});

// Prometheus scrapes a port of its own: the public one never serves /metrics.
const metricsServer = config.apiMetricsAddress
  ? serve({ fetch: createMetricsApp(metrics).fetch, hostname: parseHostPort(config.apiMetricsAddress).host, port: parseHostPort(config.apiMetricsAddress).port }, () =>
      log.info({ url: `http://${config.apiMetricsAddress}/metrics` }, 'api metrics listening'),
    )
  : undefined;

/** The longest request (a 60 s long poll) and a margin: past it the process exits whatever is still open. */
const drainMs = 65_000;
let stopping = false;

function stop(signal: string) {
  if (stopping) {
    log.warn({ signal }, 'api stopping at once (second signal)');
    process.exit(0);
  }
  stopping = true;
  log.info({ signal }, 'api stopping');
  sweeper.stop();
  metricsServer?.close();
  // A connection that never ends (a client that stopped reading) must not keep the process forever.
  setTimeout(() => {
    log.warn({ drainMs }, 'api stopping with requests still open');
    process.exit(0);
  }, drainMs).unref();
  server.close(async () => {
    await client.connection.close();
    await visibilityClient.connection.close();
    await database.close();
    await shutdownTracing().catch((err: unknown) => log.warn({ err }, 'could not flush traces'));
    process.exit(0);
  });
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
