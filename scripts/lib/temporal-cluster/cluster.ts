/**
 * A production-shaped Temporal cluster on one machine: the real server
 * binary run as one process per service (history, matching, frontend,
 * worker), Postgres persistence and SQL visibility on their own databases,
 * schemas set up by the server's schema tool, server defaults except for the
 * overrides in `infra/temporal/dynamicconfig.yaml`, the namespace and
 * Jobplane's search attributes registered, and the Web UI server with the
 * codec endpoint. Each process is supervised (restarted with back-off when it
 * dies, as Kubernetes would) and has its pid in `<dir>/<service>.pid`.
 *
 * Used by `JOBPLANE_TEMPORAL=cluster npm start`, the cluster test tier, the
 * chaos suite and `BENCH_TEMPORAL=cluster npm run bench`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import type { temporal } from '@temporalio/proto';
import { grpcCodeOf, grpcStatus } from '../../../runtime/grpc-status.ts';
import { searchAttributes } from '../../../contracts/search-attributes.ts';
import { TemporalHealthProbe } from '../../../runtime/temporal-health.ts';
import { REPO_ROOT } from '../tool-files.ts';
import type { TemporalServerTools } from '../temporal-server-tools.ts';
import { clusterServices, writeServerConfigs, writeUiConfig, type ClusterDatabases, type ClusterPorts, type ClusterService } from './config.ts';
import { hasClusterMetadata, setUpClusterSchemas } from './schema.ts';
import { supervise, type Supervised } from './supervisor.ts';

/** The dynamic config every cluster Jobplane ships runs with (compose, Kubernetes, this launcher). */
export const shippedDynamicConfigFile = path.join(REPO_ROOT, 'infra', 'temporal', 'dynamicconfig.yaml');

export interface TemporalClusterOptions {
  tools: TemporalServerTools;
  /** State of the launcher: configs, logs, pid files (`<data dir>/temporal-cluster`). */
  dir: string;
  databases: ClusterDatabases;
  ports: ClusterPorts;
  /** @default 4 */
  numHistoryShards?: number;
  /** @default shippedDynamicConfigFile */
  dynamicConfigFile?: string;
  /** @default 'default' */
  namespace?: string;
  /** Retention of closed workflows in the namespace, in hours. @default 72 */
  retentionHours?: number;
  /** Codec endpoint the Web UI calls to decode payloads. */
  uiCodecEndpoint?: string;
  /** Postgres connections per service process, see `ClusterConfigOptions`. */
  maxConnsPerService?: number;
  /** Progress, restarts. @default stderr */
  log?: (line: string) => void;
  /** @default 90000 */
  readyTimeoutMs?: number;
}

export interface TemporalCluster {
  /** Frontend gRPC address, what TEMPORAL_ADDRESS points at. */
  address: string;
  namespace: string;
  uiUrl: string | undefined;
  ports: ClusterPorts;
  dir: string;
  /** Supervised processes by service (and `ui`). */
  processes: Record<ClusterService, Supervised> & { ui?: Supervised };
  /** `<dir>/<service>.pid` of a service. */
  pidFile(service: ClusterService): string;
  /** Prometheus scrape URL of a service. */
  metricsUrl(service: ClusterService): string;
  /** Resolves once every part answers (after a restart, say). */
  waitUntilServing(timeoutMs?: number): Promise<void>;
  /** UI, frontend and worker first, then matching and history; resolves once all exited. */
  stop(): Promise<void>;
}

/** Thrown when the cluster cannot start as asked (a changed shard count, a service that never serves). */
export class TemporalClusterError extends Error {
  override name = 'TemporalClusterError';
}

export async function startTemporalCluster(opts: TemporalClusterOptions): Promise<TemporalCluster> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const namespace = opts.namespace ?? 'default';
  const numHistoryShards = opts.numHistoryShards ?? 4;
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  assertShardCountUnchanged(dir, numHistoryShards);

  await setUpClusterSchemas(opts.tools.sqlTool, opts.tools.postgresSchemaDir, opts.databases);
  const serviceArgs = writeServerConfigs(path.join(dir, 'config'), {
    ports: opts.ports,
    databases: opts.databases,
    numHistoryShards,
    dynamicConfigFile: opts.dynamicConfigFile ?? shippedDynamicConfigFile,
    ...(opts.maxConnsPerService ? { maxConnsPerService: opts.maxConnsPerService } : {}),
  });
  const logDir = path.join(dir, 'logs');
  const processes = {} as TemporalCluster['processes'];
  const start = (service: ClusterService) =>
    (processes[service] = supervise({ name: service, command: opts.tools.server, args: serviceArgs[service], pidDir: dir, logDir, log }));
  // The first process to start writes the cluster metadata; several writing it at once make all but one exit.
  const [first, ...rest] = clusterServices;
  start(first);
  await waitForClusterMetadata(opts.databases, processes[first], 30_000).catch(async (err: unknown) => {
    await processes[first].stop();
    throw err;
  });
  for (const service of rest) start(service);
  const address = `127.0.0.1:${opts.ports.services.frontend.grpc}`;
  const stopAll = async () => {
    await Promise.all([processes.ui?.stop(), processes.frontend.stop(), processes.worker.stop()]);
    await Promise.all([processes.matching.stop(), processes.history.stop()]);
  };

  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  let uiUrl: string | undefined;
  try {
    const connection = await connectWhenUp(address, readyTimeoutMs, processes, logDir);
    try {
      await ensureNamespace(connection, namespace, opts.retentionHours ?? 72);
      await ensureSearchAttributes(connection, namespace);
      await waitForAllParts(connection, namespace, readyTimeoutMs);
    } finally {
      await connection.close();
    }
    if (opts.ports.ui) {
      const uiArgs = writeUiConfig(path.join(dir, 'ui'), {
        frontendAddress: address,
        port: opts.ports.ui,
        namespace,
        ...(opts.uiCodecEndpoint ? { codecEndpoint: opts.uiCodecEndpoint } : {}),
      });
      processes.ui = supervise({ name: 'ui', command: opts.tools.uiServer, args: uiArgs, pidDir: dir, logDir, log });
      uiUrl = `http://127.0.0.1:${opts.ports.ui}`;
      await waitForHttp(uiUrl, readyTimeoutMs);
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  return {
    address,
    namespace,
    uiUrl,
    ports: opts.ports,
    dir,
    processes,
    pidFile: (service) => path.join(dir, `${service}.pid`),
    metricsUrl: (service) => `http://127.0.0.1:${opts.ports.services[service].metrics}/metrics`,
    async waitUntilServing(timeoutMs = readyTimeoutMs) {
      const connection = await connectWhenUp(address, timeoutMs, processes, logDir);
      try {
        await waitForAllParts(connection, namespace, timeoutMs);
      } finally {
        await connection.close();
      }
    },
    stop: stopAll,
  };
}

/**
 * `numHistoryShards` is written into the cluster metadata at the first start
 * and can never change; the server refuses to start with another value. Say
 * so plainly before it does.
 */
function assertShardCountUnchanged(dir: string, numHistoryShards: number): void {
  const file = path.join(dir, 'history-shards');
  if (existsSync(file)) {
    const first = Number(readFileSync(file, 'utf8').trim());
    if (first !== numHistoryShards) {
      throw new TemporalClusterError(
        `this cluster was created with ${first} history shards and asked for ${numHistoryShards}: the shard count can never change. ` +
          `Keep JOBPLANE_TEMPORAL_HISTORY_SHARDS=${first}, or delete ${dir} and Temporal's databases to start over (losing every workflow).`,
      );
    }
    return;
  }
  writeFileSync(file, `${numHistoryShards}\n`);
}

async function waitForClusterMetadata(db: ClusterDatabases, first: Supervised, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await hasClusterMetadata(db)) return;
    await sleep(100);
  }
  throw new TemporalClusterError(`${first.name} did not write the cluster metadata within ${timeoutMs} ms (restarts: ${first.restarts()}); see its log`);
}

async function connectWhenUp(address: string, timeoutMs: number, processes: TemporalCluster['processes'], logDir: string): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.withDeadline(Date.now() + 2000, () => connection.workflowService.getSystemInfo({}));
        return connection;
      } catch (err) {
        await connection.close();
        throw err;
      }
    } catch (err) {
      lastError = err;
      await sleep(250);
    }
  }
  const restarts = clusterServices.map((s) => `${s} ${processes[s].restarts()}`).join(', ');
  throw new TemporalClusterError(
    `the Temporal frontend at ${address} did not answer within ${timeoutMs} ms (${(lastError as Error)?.message}); restarts: ${restarts}; see the logs in ${logDir}`,
  );
}

async function ensureNamespace(connection: Connection, namespace: string, retentionHours: number): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return;
  } catch (err) {
    if (grpcCodeOf(err) !== grpcStatus.NOT_FOUND) throw err;
  }
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(`${retentionHours}h`),
      description: 'Jobplane jobs',
    });
  } catch (err) {
    // Another launcher registered it meanwhile.
    if (!/already exists/i.test((err as Error).message)) throw err;
  }
}

const indexedValueTypes: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KEYWORD_LIST: proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** Registers Jobplane's custom search attributes (contracts/search-attributes.ts) that the namespace lacks. */
async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  // A namespace just registered takes a moment to reach the frontend's cache.
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      const missing = Object.values(searchAttributes).filter((key) => !customAttributes?.[key.name]);
      if (missing.length === 0) return;
      await connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedValueTypes[key.type]!])),
      });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

async function waitForAllParts(connection: Connection, namespace: string, timeoutMs: number): Promise<void> {
  const probe = new TemporalHealthProbe(connection, { namespace, cacheMs: 0 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const down = await probe.unreachable();
    if (down.length === 0) return;
    if (Date.now() > deadline) throw new TemporalClusterError(`Temporal parts not serving after ${timeoutMs} ms: ${down.join(', ')}`);
    await sleep(250);
  }
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await sleep(250);
  }
  throw new TemporalClusterError(`the Temporal Web UI at ${url} did not answer within ${timeoutMs} ms`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
