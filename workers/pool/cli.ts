/**
 * `npm run workers -- --pool min..max [--interval-ms 5000] [--scale-up-readings 1] [--scale-down-window-ms 60000]`:
 * runs the local pool until SIGTERM/SIGINT, then drains every worker process.
 * A second signal kills the children at once.
 */
import { loadConfig } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { parsePoolRange, startPool } from './pool.ts';

export interface PoolCliValues {
  pool: string;
  'interval-ms'?: string;
  'scale-up-readings'?: string;
  'scale-down-window-ms'?: string;
}

function int(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} ${value}: expected an integer >= ${min}`);
  return n;
}

export async function runPoolCli(values: PoolCliValues): Promise<void> {
  const { min, max } = parsePoolRange(values.pool);
  const config = loadConfig();
  const log = createLogger('worker-pool', config.logLevel);
  const pool = await startPool({
    min,
    max,
    intervalMs: int('interval-ms', values['interval-ms'], 100),
    scaleUpReadings: int('scale-up-readings', values['scale-up-readings'], 1),
    scaleDownWindowMs: int('scale-down-window-ms', values['scale-down-window-ms'], 0),
    log,
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: killing worker processes');
      for (const p of pool.processes()) p.kill();
      process.exit(1);
    }
    log.info({ signal }, 'stopping worker pool');
    void pool.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'worker pool did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
