/**
 * `npm run outbox-relay`: relays the product service's outbox table to
 * Jobplane until SIGTERM or SIGINT, then finishes the sends in flight (at
 * most OUTBOX_RELAY_REQUEST_TIMEOUT_MS) and exits. A second signal exits at
 * once; the rows it held are taken by another relay when their lease ends.
 * Configuration: client/outbox/relay/config.ts, docs/OUTBOX.md.
 */
import { loadRelayConfig, RelayConfigError, type RelayConfig } from './config.ts';
import { createRelayLogger } from './logger.ts';
import { startOutboxRelay, type RunningRelay } from './start.ts';
import { OutboxTableMissingError } from './store.ts';

function configOrExit(): RelayConfig {
  try {
    return loadRelayConfig();
  } catch (err) {
    if (!(err instanceof RelayConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}

const config = configOrExit();
const log = createRelayLogger(config.logLevel);

let running: RunningRelay;
try {
  running = await startOutboxRelay(config, log);
} catch (err) {
  // Missing table, unreachable database: fail fast and visibly; the supervisor restarts the process.
  log.fatal({ err }, err instanceof OutboxTableMissingError ? err.message : 'outbox relay could not start');
  process.exit(1);
}

let stopping = false;
function stop(signal: string) {
  if (stopping) {
    log.warn({ signal }, 'outbox relay stopping at once (second signal)');
    process.exit(1);
  }
  stopping = true;
  log.info({ signal }, 'outbox relay stopping: finishing the sends in flight');
  running.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'outbox relay did not stop cleanly');
      process.exit(1);
    },
  );
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
