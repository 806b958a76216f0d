import { defineConfig } from 'vitest/config';
import { sharedTestSettings } from './vitest.config.ts';

/** `npm run chaos`: the fault-injection run, alone (it kills processes of its own cluster and needs the cores to itself). */
export default defineConfig({
  test: {
    ...sharedTestSettings,
    include: ['test/chaos/chaos.test.ts'],
    maxWorkers: 1,
    reporters: ['default', ['json', { outputFile: 'test-results/vitest-chaos.json' }]],
  },
});
