import { defineConfig } from 'vitest/config';
import { BaseSequencer, type InlineConfig, type TestSpecification } from 'vitest/node';

/**
 * The suites that take minutes, longest first. Started first, they run beside
 * the many short files instead of after them, so a clean CI clone (which has
 * no timing cache to order by) still finishes in about the time of the
 * longest one plus half of the rest.
 */
const longSuites = ['batch-large', 'fairness', 'pool', 'batch-run', 'runbook', 'outage', 'dev-stack'];

class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = longSuites.findIndex((name) => f.moduleId.endsWith(`/${name}.test.ts`));
      return i === -1 ? longSuites.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

/**
 * Settings every tier shares (`npm test` here; the cluster tier and the chaos
 * run in vitest.cluster.config.ts and vitest.chaos.config.ts).
 */
export const sharedTestSettings: InlineConfig = {
  pool: 'forks',
  // Two cores: each file runs its own Temporal dev server and workers.
  maxWorkers: 2,
  fileParallelism: true,
  sequence: { sequencer: LongestFirstSequencer },
  globalSetup: ['test/global-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    ...sharedTestSettings,
    include: ['test/**/*.test.ts'],
    // The cluster's own suites and the chaos run start clusters: they run in their tiers only.
    exclude: ['test/cluster/**', 'test/chaos/**', 'node_modules/**'],
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
