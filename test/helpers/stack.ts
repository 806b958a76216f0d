/**
 * A real stack for one test file: a Temporal dev server (the real CLI), a
 * scratch Postgres database with migrations, the API on a real socket, and
 * workers (in-process, or as child processes for crash tests). Each stack
 * uses its own task-queue prefix and tenant so tests never see each other.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { serve, type ServerType } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { inject, vi } from 'vitest';
import { createApp, createMetricsApp } from '../../api/app.ts';
import { createApiMetrics } from '../../api/http/metrics.ts';
import { TemporalHealthProbe } from '../../runtime/temporal-health.ts';
import { serveApi } from '../../api/http/server.ts';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { createDb, type Db } from '../../db/client.ts';
import { runMigrations } from '../../db/migrate.ts';
import type { ApiKeyRole } from '../../db/schema/index.ts';
import { loadConfig, type Config } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createWorkers, type CreateWorkersOptions } from '../../workers/create-workers.ts';
import { buildWorkflowBundle } from '../../workers/workflow-bundle.ts';
import { clientDataConverter, codecFrom, temporalConnectionOptions } from '../../runtime/temporal.ts';
import { createScratchDatabase } from '../../scripts/lib/postgres.ts';
import { startDevServer, type DevServer, type DevServerOptions } from '../../scripts/lib/temporal-dev-server.ts';

// Worker logs at WARN so test output shows failures, not every state change.
try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // already installed in this process
}

export const repoRoot = path.resolve(import.meta.dirname, '../..');
export const testSigningSecret = 'test-signing-secret-0123456789';
/**
 * Payload encryption keys of every test stack. Fixed (and test-only) so the
 * histories recorded under test/replay/ can be decrypted and replayed later.
 */
export const testCodecKeys = 'test1:dGVzdC1vbmx5LWNvZGVjLWtleS0wMDAwMDAwMDAwMDA=';

let bundlePromise: Promise<string> | undefined;
/** Bundles `workflows/` once per test file and writes it to a file child-process workers can load too. */
export function workflowBundlePath(): Promise<string> {
  bundlePromise ??= (async () => {
    const { code } = await buildWorkflowBundle();
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'jobplane-bundle-')), 'workflows.js');
    writeFileSync(file, code);
    return file;
  })();
  return bundlePromise;
}

/**
 * The Temporal a test file runs against: a dev server of its own, or in the
 * cluster tier (`npm run test:cluster`) the run's shared cluster, whose
 * `stop()` leaves it running for the other files.
 */
export async function startTestTemporal(opts: Partial<DevServerOptions> = {}): Promise<TestTemporal> {
  const cluster = inject('temporalCluster');
  if (cluster) {
    if (opts.dbFile || opts.port) throw new Error('this test needs a dev server of its own (a fixed port or data file): leave it out of the cluster tier');
    return { address: cluster.address, port: cluster.ports.services.frontend.grpc, stop: async () => {} };
  }
  return await startDevServer({ cliPath: inject('temporalCli'), ...opts });
}

/** The Temporal server of a test file: a dev server, or the cluster tier's shared cluster. */
export type TestTemporal = Pick<DevServer, 'address' | 'port' | 'stop'>;

/** True in the cluster tier: for the few assertions that differ by engine (none should). */
export const onCluster = (): boolean => inject('temporalCluster') !== null;

export interface TestStack {
  name: string;
  config: Config;
  /** Environment for child processes (API, workers) configured like this stack. */
  env: Record<string, string>;
  temporal: TestTemporal;
  db: Db;
  client: Client;
  apiUrl: string;
  /** The API's Prometheus endpoint (its own listener, never the API's port). */
  metricsUrl: string;
  tenantId: string;
  /** One key per role for the stack's tenant. */
  keys: Record<ApiKeyRole, string>;
  /**
   * Runs in-process workers for every task queue until stopped. To inject faults: wrapped activities,
   * or `temporalAddress` to reach the server through a proxy (see helpers/grpc-proxy.ts).
   */
  startWorkers(opts?: Pick<CreateWorkersOptions, 'wrapActivities'> & { temporalAddress?: string }): Promise<{ stop(): Promise<void> }>;
  /** Spawns `workers/main.ts` as a child process; resolves once it polls. */
  spawnWorkerProcess(): Promise<ChildProcess>;
  /** fetch against the API with a role's key. */
  api(pathname: string, init?: RequestInit & { role?: ApiKeyRole | null }): Promise<Response>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Reuse a running dev server instead of starting one (the caller stops it). */
  temporal?: TestTemporal;
  devServer?: Partial<DevServerOptions>;
  env?: Record<string, string>;
}

export async function startTestStack(name: string, opts: StackOptions = {}): Promise<TestStack> {
  const suffix = randomBytes(4).toString('hex');
  const temporal = opts.temporal ?? (await startTestTemporal(opts.devServer));
  const scratch = await createScratchDatabase(inject('databaseUrl'), `jp_test_${name.replace(/\W/g, '_')}_${suffix}`);
  await runMigrations(scratch.url);
  const bundle = await workflowBundlePath();

  const env: Record<string, string> = {
    DATABASE_URL: scratch.url,
    TEMPORAL_ADDRESS: temporal.address,
    JOBPLANE_TASK_QUEUE_PREFIX: `${name}-${suffix}-`,
    JOBPLANE_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
    JOBPLANE_WEBHOOK_SIGNING_SECRET: testSigningSecret,
    JOBPLANE_CODEC_KEYS: testCodecKeys,
    JOBPLANE_WEBHOOK_TIMEOUT_MS: '10000',
    JOBPLANE_WORKFLOW_BUNDLE: bundle,
    JOBPLANE_WORKER_METRICS_ADDRESS: '',
    // API processes a test spawns (several at once) serve no metrics port; the in-process API's is served on a free port.
    JOBPLANE_API_METRICS_ADDRESS: '',
    JOBPLANE_WORKER_HEALTH_ADDRESS: '',
    JOBPLANE_WORKER_SHUTDOWN_GRACE_MS: '2000',
    JOBPLANE_LOG_LEVEL: 'warn',
    // Document bytes of this stack only (removed at close).
    JOBPLANE_BLOB_DIR: mkdtempSync(path.join(tmpdir(), 'jobplane-blobs-')),
    PORT: '0',
    ...opts.env,
  };
  const config = loadConfig(env);
  const database = createDb(scratch.url, { max: 5 });
  // Through config, so a stack whose env points at a TLS / API-key frontend connects the way the processes do.
  const connection = await Connection.connect(temporalConnectionOptions(config));
  const client = new Client({ connection, namespace: config.temporalNamespace, dataConverter: clientDataConverter(codecFrom(config)) });

  const tenant = await createTenant(database.db, `tenant-${name}-${suffix}`);
  const keys = {} as Record<ApiKeyRole, string>;
  for (const role of ['admin', 'operator', 'submitter', 'viewer', 'codec'] as const) {
    keys[role] = (await createApiKey(database.db, tenant.id, { name: `${role} key`, role })).key;
  }

  // Listen first, then build the app: its links need the real port.
  const late: { app?: ReturnType<typeof createApp> } = {};
  // The API's own server, with its timeouts (api/http/server.ts).
  const server: ServerType = await new Promise((resolve) => {
    const s = serveApi((req) => late.app!.fetch(req), { port: 0, hostname: '127.0.0.1', timeouts: config }, () => resolve(s));
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const configWithUrl = { ...config, publicUrl: apiUrl };
  // Errors only by default: a 500 in CI then shows its cause next to the failed assertion.
  const temporalHealth = new TemporalHealthProbe(client.connection, { namespace: config.temporalNamespace });
  const metrics = createApiMetrics({ client, config: configWithUrl, temporalHealth });
  late.app = createApp({ config: configWithUrl, db: database.db, client, temporalHealth, metrics, log: createLogger('api-test', process.env.JOBPLANE_TEST_API_LOG ?? 'error') });
  // /metrics on a listener of its own, as api/main.ts serves it.
  const metricsServer: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: createMetricsApp(metrics).fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const metricsUrl = `http://127.0.0.1:${(metricsServer.address() as { port: number }).port}/metrics`;

  const cleanups: (() => Promise<void>)[] = [];
  const children = new Set<ChildProcess>();

  return {
    name,
    config: configWithUrl,
    env,
    temporal,
    db: database.db,
    client,
    apiUrl,
    metricsUrl,
    tenantId: tenant.id,
    keys,
    async startWorkers({ temporalAddress, ...workerOpts } = {}) {
      const nativeConnection = await NativeConnection.connect({ ...temporalConnectionOptions(config), ...(temporalAddress && { address: temporalAddress }) });
      const workers: Worker[] = await createWorkers({ config: configWithUrl, db: database.db, connection: nativeConnection, workflowBundle: { codePath: bundle }, ...workerOpts });
      const running = Promise.all(workers.map((w) => w.run()));
      const stop = async () => {
        for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
        await running;
        await nativeConnection.close();
      };
      cleanups.push(stop);
      return { stop };
    },
    async spawnWorkerProcess() {
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'workers/main.ts')], {
        cwd: repoRoot,
        env: { ...process.env, ...env, JOBPLANE_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`worker process did not start polling:\n${out}`)), 60_000);
        const onData = (d: Buffer) => {
          out += d.toString();
          if (out.includes('workers polling')) {
            clearTimeout(timer);
            resolve();
          }
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        child.once('exit', (code) => reject(new Error(`worker process exited with ${code}:\n${out}`)));
      });
      return child;
    },
    api(pathname, init = {}) {
      const { role = 'admin', ...rest } = init;
      const headers = new Headers(rest.headers);
      if (role) headers.set('authorization', `Bearer ${keys[role]}`);
      // FormData sets its own multipart content type (with the boundary).
      if (rest.body !== undefined && !(rest.body instanceof FormData) && !headers.has('content-type')) headers.set('content-type', 'application/json');
      return fetch(`${apiUrl}${pathname}`, { ...rest, headers });
    },
    async close() {
      for (const c of children) c.kill('SIGKILL');
      for (const fn of cleanups.reverse()) await fn().catch(() => {});
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      await connection.close();
      await database.close();
      if (!opts.temporal) await temporal.stop();
      await scratch.drop().catch(() => {});
      rmSync(env.JOBPLANE_BLOB_DIR!, { recursive: true, force: true });
    },
  };
}

/** Polls `GET /v1/jobs/:id` until the job reaches one of `statuses`. */
export async function waitForJob(
  stack: TestStack,
  jobId: string,
  statuses: string[] = ['succeeded', 'failed', 'cancelled', 'terminated', 'timed_out'],
  timeoutMs = 45_000,
): Promise<Record<string, unknown>> {
  return await vi.waitFor(
    async () => {
      const res = await stack.api(`/v1/jobs/${jobId}`, { role: 'viewer' });
      const last = (await res.json()) as Record<string, unknown>;
      if (!statuses.includes(String(last.status))) throw new Error(`job ${jobId} did not reach ${statuses.join('|')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
      return last;
    },
    { timeout: timeoutMs, interval: 200 },
  );
}
