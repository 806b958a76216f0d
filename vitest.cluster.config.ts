import { defineConfig } from 'vitest/config';
import { sharedTestSettings } from './vitest.config.ts';

/**
 * The cluster tier (`npm run test:cluster`): the suites that matter for the
 * engine, against ONE production-shaped Temporal cluster shared by the whole
 * run (test/global-setup.ts starts it when JOBPLANE_TEST_TEMPORAL=cluster),
 * plus the cluster's own suites (test/cluster), which start clusters of their
 * own where they break one on purpose. What passes on the dev server must
 * pass here unchanged.
 */
export const clusterSuites = [
  'test/cluster/*.test.ts',
  'test/api/jobs-api.test.ts',
  'test/api/limits-across-instances.test.ts',
  'test/api/fairness.slow.test.ts',
  'test/api/schedules.test.ts',
  'test/api/schedule-backfill.test.ts',
  'test/api/debounce.test.ts',
  'test/api/failures.test.ts',
  'test/workers/job-runs.test.ts',
  'test/workers/usage.test.ts',
  'test/workers/worker-crash.test.ts',
  'test/ops/reset.test.ts',
  'test/ops/runbook.slow.test.ts',
  'test/workflows/batch-run.slow.test.ts',
  'test/workflows/approval-request.test.ts',
  'test/scripts/dev-stack.slow.test.ts',
];

export default defineConfig({
  test: {
    ...sharedTestSettings,
    include: clusterSuites,
    reporters: ['default', ['json', { outputFile: 'test-results/vitest-cluster.json' }]],
  },
});
