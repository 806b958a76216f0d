/**
 * Wires one relay from its configuration: the service-database pool, the
 * typed client, LISTEN, metrics and the status line. `main.ts` is this plus
 * signals; tests start relays through it too.
 */
import type { Server } from 'node:http';
import postgres from 'postgres';
import type { Logger } from 'pino';
import { JobplaneClient } from '../../jobplane-client.ts';
import type { RelayConfig } from './config.ts';
import { startRelayHttpServer } from './http-server.ts';
import { createRelayMetrics, type RelayMetrics } from './metrics.ts';
import { createRelay, type Relay } from './relay.ts';
import { startStatusLog } from './status-log.ts';
import { createOutboxStore } from './store.ts';

export interface RunningRelay {
  relay: Relay;
  metrics: RelayMetrics;
  /** `http://host:port` of /metrics, /healthz, /readyz; undefined when OUTBOX_RELAY_METRICS_ADDRESS is empty. */
  httpUrl: string | undefined;
  /** Resolves when the loop has stopped (after {@link stop}). */
  done: Promise<void>;
  /** Stops claiming, waits for the sends in flight, then closes connections and the listener. */
  stop(): Promise<void>;
}

/**
 * Connects and starts relaying.
 * @throws OutboxTableMissingError when the table does not exist (nothing is left running).
 */
export async function startOutboxRelay(config: RelayConfig, log: Logger): Promise<RunningRelay> {
  const sql = postgres(config.databaseUrl, { max: config.dbPoolMax, onnotice: () => {}, connection: { application_name: 'jobplane-outbox-relay' } });
  const store = createOutboxStore(sql, config.table);
  try {
    await store.assertTableExists();
  } catch (err) {
    await sql.end({ timeout: 5 });
    throw err;
  }
  // One attempt per send: a retry is a row due again later, for any relay, not a sleep holding a lease.
  const client = new JobplaneClient({ baseUrl: config.jobplaneUrl, apiKey: config.apiKey, timeoutMs: config.requestTimeoutMs, createAttempts: 1 });
  const metrics = createRelayMetrics(() => store.stats());
  const relay = createRelay({ store, client, settings: config, metrics, log });

  // NOTIFY only makes the relay quicker: the poll interval still finds every row if a notification is missed.
  // postgres.js calls the second callback on every (re)connect of the LISTEN connection: claim then, too.
  const listening = await sql.listen(store.table.channel, () => relay.wake(), () => relay.wake()).catch((err: unknown) => {
    log.warn({ err, channel: store.table.channel }, 'LISTEN failed: relying on the poll interval');
    return undefined;
  });

  let server: Server | undefined;
  if (config.metricsAddress) server = await startRelayHttpServer(config.metricsAddress, metrics.registry, () => relay.healthy);
  const address = server?.address();
  const httpUrl = address && typeof address === 'object' ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : undefined;
  const stopStatusLog = startStatusLog(store, metrics, log, config.statusLogIntervalMs);

  const done = relay.run();
  log.info({ table: store.table.name, jobplaneUrl: config.jobplaneUrl, batchSize: config.batchSize, leaseMs: config.leaseMs, http: httpUrl ?? 'off' }, 'outbox relay started');

  let stopped: Promise<void> | undefined;
  return {
    relay,
    metrics,
    httpUrl,
    done,
    stop() {
      stopped ??= (async () => {
        relay.stop();
        await done;
        stopStatusLog();
        await listening?.unlisten().catch(() => {});
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
        await sql.end({ timeout: 5 });
        log.info('outbox relay stopped');
      })();
      return stopped;
    },
  };
}
