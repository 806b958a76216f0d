/**
 * The static configuration of a local Temporal cluster: which ports each
 * service listens on, and the server and Web UI config files rendered from
 * them. Written as JSON (which YAML parsers read as YAML), so rendering needs
 * no YAML library; one file per service, since each needs its own metrics
 * port. The server's own `config/development-postgres12.yaml` is the model;
 * everything not set here is the server's default.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { freePort } from '../../../runtime/host-port.ts';

/** The four services of the server binary, in the order they are started. */
export const clusterServices = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof clusterServices)[number];

export interface ServicePorts {
  grpc: number;
  membership: number;
  /** Prometheus scrape port of this process. */
  metrics: number;
}

export interface ClusterPorts {
  services: Record<ClusterService, ServicePorts>;
  /** The frontend's HTTP API (Nexus callbacks, HTTP clients). */
  frontendHttp: number;
  /** Web UI; 0 = no UI. */
  ui: number;
}

/**
 * The ports of `JOBPLANE_TEMPORAL=cluster npm start`, laid out as the server's
 * own defaults are around the frontend's port (the port of TEMPORAL_ADDRESS,
 * 7233 like the dev server, so every CLI command in the runbook works
 * unchanged): history +1, matching +2, worker +6, the frontend's HTTP API
 * +10, metrics +20…+23, and each service's membership port 300 below its
 * gRPC port (6933…6939). Membership ports must stay below 32768 (see
 * {@link freeMembershipPort}), so the frontend port must too.
 */
export function defaultClusterPorts(frontendPort: number, uiPort: number): ClusterPorts {
  if (frontendPort < 400 || frontendPort > 32_000) throw new Error(`the cluster's frontend port must be between 400 and 32000 (membership ports are stored as smallint), got ${frontendPort}`);
  const at = (offset: number, metricsOffset: number): ServicePorts => ({ grpc: frontendPort + offset, membership: frontendPort + offset - 300, metrics: frontendPort + metricsOffset });
  return {
    services: { frontend: at(0, 20), history: at(1, 21), matching: at(2, 22), worker: at(6, 23) },
    frontendHttp: frontendPort + 10,
    ui: uiPort,
  };
}

/** Every port free at the time of asking: for tests, where several stacks share one machine. */
export async function freeClusterPorts(withUi: boolean): Promise<ClusterPorts> {
  const services = {} as Record<ClusterService, ServicePorts>;
  for (const service of clusterServices) services[service] = { grpc: await freePort(), membership: await freeMembershipPort(), metrics: await freePort() };
  return { services, frontendHttp: await freePort(), ui: withUi ? await freePort() : 0 };
}

/**
 * A free port below 32768: the cluster stores membership ports in a Postgres
 * `smallint` (cluster_membership.rpc_port), so an ephemeral port the kernel
 * hands out (32768 and up) makes every service fail at start.
 */
async function freeMembershipPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canBind(port)) return port;
  }
  throw new Error('no free port between 20000 and 32000 for cluster membership');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Where the cluster keeps its persistence: two databases on one Postgres server. */
export interface ClusterDatabases {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Execution state (history, tasks, namespaces, cluster metadata). */
  persistence: string;
  /** SQL visibility: what list and count queries read. */
  visibility: string;
}

export interface ClusterConfigOptions {
  ports: ClusterPorts;
  databases: ClusterDatabases;
  /** Fixed at the first start, never changeable (see docs/DEPLOY.md "Production topology"). */
  numHistoryShards: number;
  /** The dynamic config file every service watches (infra/temporal/dynamicconfig.yaml). */
  dynamicConfigFile: string;
  /**
   * Postgres connections each service process may open to the persistence
   * store; visibility gets a quarter of it. Four processes × (this + this/4)
   * must fit the server's max_connections beside Jobplane's own pools.
   * @default 10
   */
  maxConnsPerService?: number;
  /** Server log level. @default 'warn' */
  logLevel?: string;
}

function sqlStore(db: ClusterDatabases, databaseName: string, maxConns: number) {
  return {
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${db.host}:${db.port}`,
      connectProtocol: 'tcp',
      user: db.user,
      password: db.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  };
}

/** The server config of one service process (every process gets the whole services block, for membership). */
export function serverConfig(opts: ClusterConfigOptions, service: ClusterService) {
  const maxConns = opts.maxConnsPerService ?? 10;
  const { services, frontendHttp } = opts.ports;
  const rpc = (s: ClusterService) => ({
    grpcPort: services[s].grpc,
    membershipPort: services[s].membership,
    bindOnIP: '127.0.0.1',
    ...(s === 'frontend' ? { httpPort: frontendHttp } : {}),
  });
  const frontendAddress = `127.0.0.1:${services.frontend.grpc}`;
  return {
    log: { stdout: true, level: opts.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: opts.numHistoryShards,
      datastores: {
        default: sqlStore(opts.databases, opts.databases.persistence, maxConns),
        visibility: sqlStore(opts.databases, opts.databases.visibility, Math.max(2, Math.ceil(maxConns / 4))),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${services[service].metrics}` } },
    },
    services: Object.fromEntries(clusterServices.map((s) => [s, { rpc: rpc(s) }])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontendAddress } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    // The worker service reaches the frontend through this address (system workflows: batch reset, schedules).
    publicClient: { hostPort: frontendAddress },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: opts.dynamicConfigFile, pollInterval: '10s' },
  };
}

/**
 * Writes `<dir>/<service>/development.yaml` for each service and returns the
 * `-r/-c/-e` arguments that make the server binary load it.
 */
export function writeServerConfigs(dir: string, opts: ClusterConfigOptions): Record<ClusterService, string[]> {
  const args = {} as Record<ClusterService, string[]>;
  for (const service of clusterServices) {
    const configDir = path.join(dir, service);
    mkdirSync(configDir, { recursive: true });
    writeFileSync(path.join(configDir, 'development.yaml'), `${JSON.stringify(serverConfig(opts, service), null, 2)}\n`, { mode: 0o600 });
    args[service] = ['--root', dir, '--config', service, '--env', 'development', '--allow-no-auth', 'start', '--service', service];
  }
  return args;
}

export interface UiConfigOptions {
  frontendAddress: string;
  port: number;
  namespace: string;
  /** The API's codec endpoint the browser calls to decode payloads. */
  codecEndpoint?: string;
}

/** Writes the Web UI server's config (`<dir>/config/development.yaml`) and returns its arguments. */
export function writeUiConfig(dir: string, opts: UiConfigOptions): string[] {
  const config = {
    temporalGrpcAddress: opts.frontendAddress,
    host: '127.0.0.1',
    port: opts.port,
    enableUi: true,
    defaultNamespace: opts.namespace,
    refreshInterval: '1m',
    notifyOnNewVersion: false,
    cors: { allowOrigins: [`http://localhost:${opts.port}`, `http://127.0.0.1:${opts.port}`], cookieInsecure: true },
    codec: { endpoint: opts.codecEndpoint ?? '', passAccessToken: false, includeCredentials: false },
    forwardHeaders: [],
  };
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  writeFileSync(path.join(dir, 'config', 'development.yaml'), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return ['--root', dir, '--config', 'config', '--env', 'development', 'start'];
}
