/**
 * Temporal clusters for the tests that need one of their own (to break it on
 * purpose: kill a service, stop its Postgres), and small readers of what a
 * cluster exposes. The cluster tier's shared cluster is started once by
 * test/global-setup.ts; these never touch it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../scripts/lib/postgres.ts';
import { startTemporalCluster, type TemporalCluster, type TemporalClusterOptions } from '../../scripts/lib/temporal-cluster/cluster.ts';
import { defaultClusterPorts, freeClusterPorts, type ClusterDatabases } from '../../scripts/lib/temporal-cluster/config.ts';
import { ensureTemporalServerTools } from '../../scripts/lib/temporal-server-tools.ts';
import { freePort } from '../../runtime/host-port.ts';

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A frontend port for `JOBPLANE_TEMPORAL=cluster npm start` whose derived
 * ports (defaultClusterPorts: +1, +2, +6, +10, +20…+23, −300…) are all free.
 */
export async function freeClusterFrontendPort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 11_000);
    const { services, frontendHttp } = defaultClusterPorts(port, 0);
    const all = [frontendHttp, ...Object.values(services).flatMap((s) => [s.grpc, s.membership, s.metrics])];
    if ((await Promise.all(all.map(canBind))).every(Boolean)) return port;
  }
  throw new Error('no free block of ports for a cluster');
}

export interface OwnCluster {
  cluster: TemporalCluster;
  /** Temporal's own Postgres; `restartPostgres()` stops and starts it on the same data. */
  postgres: EmbeddedPostgresHandle;
  restartPostgres(downMs?: number): Promise<void>;
  /** Stops the cluster and restarts it on the same data (the whole cluster restarted). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** A cluster of its own on an embedded Postgres of its own, in a temp dir removed at close. */
export async function startOwnCluster(name: string, opts: Partial<Pick<TemporalClusterOptions, 'uiCodecEndpoint'>> & { withUi?: boolean } = {}): Promise<OwnCluster> {
  const tools = await ensureTemporalServerTools({ quiet: true });
  const root = mkdtempSync(path.join(tmpdir(), `jobplane-${name}-`));
  const pgDir = path.join(root, 'postgres');
  const pgPort = await freePort();
  let postgres = await startEmbeddedPostgres(pgDir, pgPort, { maxConnections: 150 });
  const url = new URL(postgres.url);
  const databases: ClusterDatabases = { host: url.hostname, port: pgPort, user: url.username, password: url.password, persistence: 'temporal', visibility: 'temporal_visibility' };
  const ports = await freeClusterPorts(opts.withUi ?? false);
  const launch = () =>
    startTemporalCluster({
      tools,
      dir: path.join(root, 'temporal-cluster'),
      databases,
      ports,
      ...(opts.uiCodecEndpoint ? { uiCodecEndpoint: opts.uiCodecEndpoint } : {}),
      log: (line) => process.stderr.write(`[${name}-cluster] ${line}\n`),
    });
  const own: OwnCluster = {
    cluster: await launch(),
    postgres,
    async restartPostgres(downMs = 0) {
      await postgres.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      postgres = await startEmbeddedPostgres(pgDir, pgPort, { maxConnections: 150 });
      own.postgres = postgres;
    },
    async restart() {
      await own.cluster.stop();
      own.cluster = await launch();
    },
    async close() {
      await own.cluster.stop().catch(() => {});
      await postgres.stop().catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
  return own;
}

/** The sum of a Prometheus counter's samples whose labels include `labels`. */
export async function scrapeCounter(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = /\{(.*)\}/.exec(line)?.[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) sum += Number(line.split(' ').at(-1));
  }
  return sum;
}
