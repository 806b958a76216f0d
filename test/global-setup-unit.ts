/**
 * Once per unit-tier run (`npm run test:unit`, vitest.unit.config.ts): only
 * Postgres. No Temporal CLI is provisioned and no server is started; a test
 * that needs one belongs in the dev-server suite.
 */
import type { TestProject } from 'vitest/node';
import { testDatabaseUrl } from './global-setup.ts';

export default async function setup(project: TestProject) {
  const stops: (() => Promise<void>)[] = [];
  project.provide('databaseUrl', await testDatabaseUrl(process.env.JOBPLANE_DATA_DIR ?? '.data', stops));
  project.provide('temporalCli', '');
  project.provide('temporalCluster', null);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}
