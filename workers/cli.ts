/**
 * `npm run workers`: one worker process (`workers/main.ts`), or with
 * `--pool min..max` the local pool that scales worker processes on the
 * task-queue backlog (see `workers/pool/pool.ts`).
 */
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    pool: { type: 'string' },
    'interval-ms': { type: 'string' },
    'scale-up-readings': { type: 'string' },
    'scale-down-window-ms': { type: 'string' },
  },
  strict: true,
});

if (values.pool === undefined) {
  const poolOnly = Object.keys(values).filter((k) => k !== 'pool');
  if (poolOnly.length > 0) throw new Error(`--${poolOnly[0]} needs --pool min..max`);
  await import('./main.ts');
} else {
  const { runPoolCli } = await import('./pool/cli.ts');
  await runPoolCli({ ...values, pool: values.pool });
}
