/**
 * The benchmark's own stack, built from the same pieces as test/helpers/stack.ts
 * (which needs vitest's `inject` and so cannot run here): one Temporal dev
 * server, one scratch database, one receiver for the whole run, and per
 * workload a tenant, the API on a real socket and in-process workers on a
 * task-queue prefix of their own.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createApp } from '../api/app.ts';
import { createApiKey, createTenant } from '../api/tenants/service.ts';
import { webhookDeliver } from '../contracts/webhook-deliver.ts';
import { eq } from 'drizzle-orm';
import { createDb, type Db } from '../db/client.ts';
import { tenants } from '../db/schema/index.ts';
import { runMigrations } from '../db/migrate.ts';
import { loadConfig, settings, type Config } from '../runtime/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { taskQueueName } from '../runtime/temporal.ts';
import { ensureTool, readToolVersion } from '../scripts/lib/cli-tools.ts';
import { startEmbeddedPostgres } from '../scripts/lib/postgres.ts';
import { freePort } from '../runtime/host-port.ts';
import { startDevServer, type DevServer } from '../scripts/lib/temporal-dev-server.ts';
import { startTemporalCluster } from '../scripts/lib/temporal-cluster/cluster.ts';
import { clusterServices, freeClusterPorts } from '../scripts/lib/temporal-cluster/config.ts';
import { ensureTemporalServerTools } from '../scripts/lib/temporal-server-tools.ts';
import { createWorkers } from '../workers/create-workers.ts';
import { buildWorkflowBundle } from '../workers/workflow-bundle.ts';
import { generateCodecKeySpec } from '../runtime/codec.ts';
import { clientDataConverter, codecFrom } from '../runtime/temporal.ts';
import type { Cleanup } from './cleanup.ts';
import { serveFetch, startReceiver, type Receiver } from './http.ts';
import { createBenchDatabase, dropStaleBenchDatabases } from './scratch-db.ts';

/** Port of the benchmark's embedded Postgres: apart from dev (5499) and tests (5498). */
const embeddedPgPort = 5497;
const signingSecret = 'bench-signing-secret-0123456789';
const codecKeys = generateCodecKeySpec('bench');

/** The Temporal a run measures: the dev server, or (`BENCH_TEMPORAL=cluster`) the production-shaped cluster. */
export interface BenchTemporal {
  engine: 'dev' | 'cluster';
  address: string;
  /** Pids of every Temporal process, for CPU accounting. */
  pids(): number[];
  /** What the engine commits to disk, for the results file. */
  durability: string;
  stop(): Promise<void>;
}

export interface BenchBase {
  temporal: BenchTemporal;
  temporalCliVersion: string;
  /** Where Postgres came from, for the results file. */
  postgres: 'DATABASE_URL' | 'embedded';
  databaseUrl: string;
  /** What Jobplane's Postgres fsyncs, as read from it (`synchronous_commit`, `fsync`). */
  postgresDurability: string;
  client: Client;
  bundle: WorkflowBundleWithSourceMap;
  receiver: Receiver;
  cleanup: Cleanup;
  /** Aborts on timeout or Ctrl-C; in-flight requests and starts stop with it. */
  signal: AbortSignal;
}

export interface Workload {
  config: Config;
  tenantId: string;
  apiUrl: string;
  /** Plaintext submitter key of the workload's tenant. */
  apiKey: string;
  /** Prefixed task queue of `webhook.deliver` in this workload. */
  taskQueue: string;
  client: Client;
  signal: AbortSignal;
}


/** Starts what all workloads share; every piece is registered in `cleanup` as soon as it runs. */
export async function startBase(cleanup: Cleanup, signal: AbortSignal): Promise<BenchBase> {
  const cliPath = await ensureTool('temporal', { quiet: true });
  const temporal = process.env.BENCH_TEMPORAL === 'cluster' ? await startBenchCluster(cleanup) : await startBenchDevServer(cliPath, cleanup);
  cleanup.add(`temporal (${temporal.engine})`, () => temporal.stop());

  const pg = await postgresUrl(cleanup);
  await dropStaleBenchDatabases(pg.url);
  const scratch = await createBenchDatabase(pg.url);
  cleanup.add('scratch database', () => scratch.drop());
  await runMigrations(scratch.url);
  const postgresDurability = await durabilityOf(scratch.url);

  const connection = await Connection.connect({ address: temporal.address });
  cleanup.add('client connection', () => connection.close());
  const receiver = await startReceiver();
  cleanup.add('receiver', () => receiver.close());
  // Bundled once and shared: bundling costs seconds and is not what we measure.
  const bundle = await buildWorkflowBundle();
  // Encrypted like production: the codec's cost is part of what the API path and the SDK path both pay.
  const client = new Client({
    connection,
    namespace: settings.temporalNamespace.default!,
    dataConverter: clientDataConverter(codecFrom({ codecKeys: codecKeys, codecCurrentKey: undefined })),
  });
  const temporalCliVersion = (await readToolVersion('temporal', cliPath)) ?? 'unknown';
  return { temporal, temporalCliVersion, postgres: pg.source, postgresDurability, databaseUrl: scratch.url, client, bundle, receiver, cleanup, signal };
}

/**
 * The dev server on a SQLite file that fsyncs every commit, so Temporal is
 * as durable as the Postgres beside it and as the peers it is compared with
 * (BENCH_TEMPORAL_DURABILITY=memory gives the old in-memory server, for a
 * quick look only).
 */
async function startBenchDevServer(cliPath: string, cleanup: Cleanup): Promise<BenchTemporal> {
  if (process.env.BENCH_TEMPORAL_DURABILITY === 'memory') {
    const server: DevServer = await startDevServer({ cliPath });
    return { engine: 'dev', address: server.address, pids: () => (server.process.pid ? [server.process.pid] : []), durability: 'dev server, SQLite in memory (nothing on disk: not durable)', stop: () => server.stop() };
  }
  const dataDir = path.resolve(process.env.JOBPLANE_DATA_DIR || settings.dataDir.default!);
  mkdirSync(dataDir, { recursive: true });
  const dir = mkdtempSync(path.join(dataDir, 'bench-temporal-'));
  cleanup.add('dev server data', async () => rmSync(dir, { recursive: true, force: true }));
  const server: DevServer = await startDevServer({ cliPath, dbFile: path.join(dir, 'temporal.db'), sqliteSynchronous: 'full' });
  return {
    engine: 'dev',
    address: server.address,
    pids: () => (server.process.pid ? [server.process.pid] : []),
    durability: 'dev server, SQLite file (WAL), synchronous=full: fsync on every commit',
    stop: () => server.stop(),
  };
}

/**
 * The production topology (scripts/lib/temporal-cluster): separate service
 * processes on an embedded Postgres of their own (fresh each run, under the
 * data dir), server defaults and the shipped dynamic config.
 */
async function startBenchCluster(cleanup: Cleanup): Promise<BenchTemporal> {
  const tools = await ensureTemporalServerTools({ quiet: true });
  const root = path.resolve(process.env.JOBPLANE_DATA_DIR || settings.dataDir.default!, 'bench-cluster');
  rmSync(root, { recursive: true, force: true });
  const pgPort = await freePort();
  const pg = await startEmbeddedPostgres(path.join(root, 'postgres'), pgPort, { maxConnections: 200 });
  cleanup.add('cluster postgres', () => pg.stop());
  const url = new URL(pg.url);
  const cluster = await startTemporalCluster({
    tools,
    dir: path.join(root, 'temporal-cluster'),
    databases: { host: url.hostname, port: pgPort, user: url.username, password: url.password, persistence: 'temporal', visibility: 'temporal_visibility' },
    ports: await freeClusterPorts(false),
    log: (line) => process.stderr.write(`[bench cluster] ${line}\n`),
  });
  return {
    engine: 'cluster',
    address: cluster.address,
    pids: () => clusterServices.map((s) => cluster.processes[s].current()?.pid).filter((p): p is number => p !== undefined),
    durability: 'cluster on Postgres 18 (embedded), synchronous_commit=on, fsync=on (Postgres defaults)',
    stop: () => cluster.stop(),
  };
}

/** The server's own word on what it fsyncs: a bench that claims durability reads it instead of assuming it. */
async function durabilityOf(url: string): Promise<string> {
  const { sql: query, close } = createDb(url, { max: 1 });
  try {
    const rows = await query<{ name: string; setting: string }[]>`select name, setting from pg_settings where name in ('synchronous_commit', 'fsync', 'wal_sync_method') order by name`;
    return rows.map((r) => `${r.name}=${r.setting}`).join(', ');
  } finally {
    await close();
  }
}

async function postgresUrl(cleanup: Cleanup): Promise<{ url: string; source: BenchBase['postgres'] }> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, source: 'DATABASE_URL' };
  const dataDir = process.env.JOBPLANE_DATA_DIR || settings.dataDir.default!;
  const pg = await startEmbeddedPostgres(path.resolve(dataDir, 'bench-postgres'), embeddedPgPort);
  cleanup.add('embedded postgres', () => pg.stop());
  return { url: pg.url, source: 'embedded' };
}

/**
 * The settings of one workload (or phase) as environment variables, so worker
 * child processes get exactly what in-process workers get: the scratch
 * database, the dev server, the codec keys and a task-queue prefix of its own.
 */
export function workloadEnv(base: BenchBase, name: string): Record<string, string> {
  const blobDir = mkdtempSync(path.join(tmpdir(), `jobplane-bench-blobs-${name}-`));
  base.cleanup.add(`${name} blob dir`, async () => rmSync(blobDir, { recursive: true, force: true }));
  return {
    JOBPLANE_BLOB_DIR: blobDir,
    DATABASE_URL: base.databaseUrl,
    TEMPORAL_ADDRESS: base.temporal.address,
    JOBPLANE_TASK_QUEUE_PREFIX: `bench-${name}-${randomBytes(4).toString('hex')}-`,
    JOBPLANE_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    JOBPLANE_WEBHOOK_SIGNING_SECRET: signingSecret,
    JOBPLANE_CODEC_KEYS: codecKeys,
    JOBPLANE_WORKER_METRICS_ADDRESS: '',
    JOBPLANE_WORKER_SHUTDOWN_GRACE_MS: '2000',
    JOBPLANE_LOG_LEVEL: 'silent',
  };
}

/** A tenant, the API and running workers on a task-queue prefix no other workload uses. */
export async function startWorkload(base: BenchBase, name: string): Promise<Workload> {
  const config = loadConfig(workloadEnv(base, name));
  // Separate pools for API and workers, as they would be in separate processes.
  const apiDb = openDb(base, `${name} api db`);
  const tenant = await createTenant(apiDb, `bench-${name}`);
  // The bench measures the create path, not the quota: the tenant's rate limit raised (limits and audit stay in force).
  await apiDb.update(tenants).set({ createRatePerSecond: 200, createBurst: 200 }).where(eq(tenants.id, tenant.id));
  const { key } = await createApiKey(apiDb, tenant.id, { name: 'bench submitter', role: 'submitter' });

  const app = createApp({ config, db: apiDb, client: base.client, log: createLogger('bench-api', 'silent') });
  const api = await serveFetch(app.fetch);
  base.cleanup.add(`${name} api server`, () => api.close());
  await startWorkers(base, name, config);
  return {
    config,
    tenantId: tenant.id,
    apiUrl: api.url,
    apiKey: key,
    taskQueue: taskQueueName(config, webhookDeliver.taskQueue),
    client: base.client,
    signal: base.signal,
  };
}

export function openDb(base: BenchBase, label: string): Db {
  const database = createDb(base.databaseUrl, { max: 10, applicationName: 'jobplane-bench' });
  base.cleanup.add(label, () => database.close());
  return database.db;
}

async function startWorkers(base: BenchBase, name: string, config: Config): Promise<void> {
  const connection = await NativeConnection.connect({ address: base.temporal.address });
  base.cleanup.add(`${name} worker connection`, () => connection.close());
  const db = openDb(base, `${name} worker db`);
  const workers = await createWorkers({ config, db, connection, workflowBundle: base.bundle });
  const running = Promise.all(workers.map((w) => w.run()));
  // A worker that dies mid-run fails the awaits that depend on it; say why on stderr.
  running.catch((err: unknown) => console.error(`[bench] ${name} worker stopped: ${(err as Error).message}`));
  base.cleanup.add(`${name} workers`, async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running.catch(() => {});
  });
}
