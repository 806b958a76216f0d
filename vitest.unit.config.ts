import { defineConfig } from 'vitest/config';
import { sharedTestSettings } from './vitest.config.ts';

/**
 * The unit tier (`npm run test:unit`): files named `*.unit.test.ts`, which
 * need Postgres but no Temporal server (the API through `app.request()`,
 * test/helpers/app.ts; pure modules). Seconds, not minutes. `npm test` runs
 * them too: its include matches every `*.test.ts`.
 */
export default defineConfig({
  test: {
    ...sharedTestSettings,
    include: ['test/**/*.unit.test.ts'],
    globalSetup: ['test/global-setup-unit.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    reporters: ['default', ['json', { outputFile: 'test-results/vitest-unit.json' }]],
  },
});
