import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type InlineConfig, type TestSpecification } from 'vitest/node';

/** Files that take minutes are named `*.slow.test.ts`. */
export const isSlowFile = (file: string): boolean => file.endsWith('.slow.test.ts');

/**
 * The longest test or hook timeout a file declares (`timeout: 27 * 60_000`,
 * `}, 180_000)`): its author's bound on how long it runs, readable from a
 * clean clone that has no timing cache.
 */
function declaredTimeout(file: string): number {
  const text = readFileSync(file, 'utf8');
  let longest = 0;
  for (const [, expr] of text.matchAll(/(?:timeout:\s*|\},\s*)(\d[\d_]*(?:\s*\*\s*\d[\d_]*)*)\s*[,)}]/g)) {
    longest = Math.max(longest, expr!.split('*').reduce((product, n) => product * Number(n.trim().replaceAll('_', '')), 1));
  }
  return longest;
}

/**
 * Slow files first, longest first, so they run beside the many short files
 * instead of after them: by vitest's cached duration when every slow file
 * has one, otherwise (a clean CI clone) by the longest timeout each declares,
 * then by size. The rest keep vitest's own order.
 */
class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const slow = sorted.filter((f) => isSlowFile(f.moduleId));
    const cached = (f: TestSpecification) => this.ctx.cache.getFileTestResults(`${f.project.name}:${path.relative(this.ctx.config.root, f.moduleId)}`)?.duration;
    const weight = slow.every((f) => cached(f) !== undefined)
      ? (f: TestSpecification) => [cached(f)!]
      : (f: TestSpecification) => [declaredTimeout(f.moduleId), statSync(f.moduleId).size];
    const weights = new Map(slow.map((f) => [f, weight(f)]));
    slow.sort((a, b) => {
      const [wa, wb] = [weights.get(a)!, weights.get(b)!];
      return wb[0]! - wa[0]! || (wb[1] ?? 0) - (wa[1] ?? 0);
    });
    return [...slow, ...sorted.filter((f) => !isSlowFile(f.moduleId))];
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
  sequence: { sequencer: SlowFirstSequencer },
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
