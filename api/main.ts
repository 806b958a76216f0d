/** API process: Hono on Node, with graceful shutdown. */
import { serve } from '@hono/node-server';
import { loadConfig, requireDatabaseUrl } from '../runtime/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { connectClient } from '../runtime/temporal.ts';
import { installTracingFromConfig, shutdownTracing } from '../runtime/tracing.ts';
import { createDb } from '../db/client.ts';
import { createApp } from './app.ts';

const config = loadConfig();
const log = createLogger('api', config.logLevel);
// Before the client exists: requests, and the workflow starts they make, become traces (OTLP when configured).
installTracingFromConfig(config, 'jobplane-api');
const database = createDb(requireDatabaseUrl(config), { max: config.dbPoolMax, applicationName: 'jobplane-api' });
const client = await connectClient(config);
const app = createApp({ config, db: database.db, client, log });

const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => {
  log.info({ url: `http://${config.host}:${info.port}` }, 'api listening');
});

function stop(signal: string) {
  log.info({ signal }, 'api stopping');
  server.close(async () => {
    await client.connection.close();
    await database.close();
    await shutdownTracing().catch((err: unknown) => log.warn({ err }, 'could not flush traces'));
    process.exit(0);
  });
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
