/**
 * `npm start`: the whole platform on one machine with embedded defaults —
 * Temporal (the dev server, or with JOBPLANE_TEMPORAL=cluster a cluster of
 * separate service processes on Postgres; state under the data dir),
 * Postgres (DATABASE_URL or embedded), migrations, the API and the workers.
 * Ctrl-C stops everything in order; the next start finds the same jobs and data.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../runtime/config.ts';
import { runMigrations } from '../db/migrate.ts';
import { ensureTool, ToolUnavailableError } from './lib/cli-tools.ts';
import { spawnChild, type Child } from './lib/children.ts';
import { ensureDatabase, ensureDevCodecKey, ensureDevTenant, readOrCreateSecret } from './lib/dev-bootstrap.ts';
import { generateCodecKeySpec } from '../runtime/codec.ts';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './lib/postgres.ts';
import { startDevServer, waitForFrontend, type DevServer } from './lib/temporal-dev-server.ts';
import { startTemporalCluster, TemporalClusterError } from './lib/temporal-cluster/cluster.ts';
import { GoBinaryUnavailableError } from './lib/go-binary.ts';
import { defaultClusterPorts } from './lib/temporal-cluster/config.ts';
import { ensureTemporalServerTools } from './lib/temporal-server-tools.ts';
import { startWebhookSink } from './lib/webhook-sink.ts';

const root = path.resolve(fileURLToPath(import.meta.url), '../..');
const config = loadConfig();
const dataDir = path.resolve(root, config.dataDir);
mkdirSync(dataDir, { recursive: true });
const say = (line: string) => console.log(`[jobplane] ${line}`);

const stoppers: (() => Promise<unknown>)[] = [];
let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  for (const stop of stoppers.reverse()) await stop().catch((err) => say(`stop failed: ${(err as Error).message}`));
  say('stopped');
  process.exit(code);
}
// When the terminal goes away first, writing to it must not kill the orderly shutdown.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

/** What `npm start` stops after the API and workers. */
interface RunningTemporal {
  description: string;
  stop(): Promise<void>;
}

async function startTemporal(uiCodecEndpoint: string, postgresUrl: string): Promise<RunningTemporal | undefined> {
  // An already running server (or a real cluster) at TEMPORAL_ADDRESS is used as it is.
  try {
    await waitForFrontend(config.temporalAddress, 1500);
    say(`using the Temporal server already at ${config.temporalAddress} (its Web UI decodes payloads only if started with --ui-codec-endpoint)`);
    return undefined;
  } catch {
    // none there: start one
  }
  return config.temporalTopology === 'cluster' ? await startCluster(uiCodecEndpoint, postgresUrl) : await startDev(uiCodecEndpoint);
}

async function startDev(uiCodecEndpoint: string): Promise<RunningTemporal> {
  const cliPath = await ensureTool('temporal');
  const port = Number(config.temporalAddress.split(':').pop());
  say(`starting Temporal dev server on ${config.temporalAddress} (UI :${config.temporalUiPort}, state ${path.join(config.dataDir, 'temporal.db')})`);
  const server: DevServer = await startDevServer({
    cliPath,
    port,
    uiPort: config.temporalUiPort,
    dbFile: path.join(dataDir, 'temporal.db'),
    uiCodecEndpoint,
    stdio: 'inherit',
    detached: true,
  });
  return { description: `dev server on ${config.temporalAddress} (state ${path.join(config.dataDir, 'temporal.db')})`, stop: () => server.stop() };
}

/**
 * The production topology on this machine: frontend, history, matching and
 * worker as separate processes on Temporal's own databases (`temporal`,
 * `temporal_visibility`) of the same Postgres server, with the shipped
 * dynamic config (server defaults otherwise), and the Web UI.
 */
async function startCluster(uiCodecEndpoint: string, postgresUrl: string): Promise<RunningTemporal> {
  const tools = await ensureTemporalServerTools();
  const pg = new URL(postgresUrl);
  const port = Number(config.temporalAddress.split(':').pop());
  const dir = path.join(dataDir, 'temporal-cluster');
  say(`starting a Temporal cluster (frontend ${config.temporalAddress}, history, matching, worker; ${config.temporalHistoryShards} history shards; logs ${path.join(config.dataDir, 'temporal-cluster', 'logs')})`);
  const cluster = await startTemporalCluster({
    tools,
    dir,
    databases: {
      host: pg.hostname,
      port: Number(pg.port || 5432),
      user: decodeURIComponent(pg.username),
      password: decodeURIComponent(pg.password),
      persistence: 'temporal',
      visibility: 'temporal_visibility',
    },
    ports: defaultClusterPorts(port, config.temporalUiPort),
    numHistoryShards: config.temporalHistoryShards,
    uiCodecEndpoint,
    log: (line) => say(`temporal-cluster: ${line}`),
  });
  return { description: `cluster: frontend ${cluster.address}, history, matching, worker (pids in ${path.join(config.dataDir, 'temporal-cluster')})`, stop: () => cluster.stop() };
}

/** Jobplane's database, and the server URL Temporal's cluster databases go on. */
async function startPostgres(): Promise<{ databaseUrl: string; serverUrl: string }> {
  if (config.databaseUrl) return { databaseUrl: config.databaseUrl, serverUrl: config.databaseUrl };
  say(`starting embedded Postgres on 127.0.0.1:${config.embeddedPostgresPort} (data ${path.join(config.dataDir, 'postgres')})`);
  const pg: EmbeddedPostgresHandle = await startEmbeddedPostgres(path.join(dataDir, 'postgres'), config.embeddedPostgresPort);
  stoppers.push(() => pg.stop());
  return { databaseUrl: await ensureDatabase(pg.url, 'jobplane'), serverUrl: pg.url };
}

async function main() {
  const started = Date.now();
  const { databaseUrl, serverUrl } = await startPostgres();
  await runMigrations(databaseUrl);
  const devKey = await ensureDevTenant(databaseUrl, dataDir);
  // The Web UI decodes through the API's codec endpoint with a viewer key of tenant `dev` (see api/codec/routes.ts).
  const codecKey = await ensureDevCodecKey(databaseUrl, dataDir);
  const temporal = await startTemporal(`${config.publicUrl}/codec/k/${codecKey}`, serverUrl);
  // Stopped after the API and workers, before Postgres (which a cluster keeps its state in).
  if (temporal) stoppers.push(() => temporal.stop());
  const signingSecret = config.webhookSigningSecret ?? readOrCreateSecret(path.join(dataDir, 'webhook-signing-secret'));
  const platformKey = config.platformKey ?? readOrCreateSecret(path.join(dataDir, 'platform-key'), 'jpp_');
  const codecKeys = config.codecKeys ?? readOrCreateSecret(path.join(dataDir, 'codec-keys'), '', () => generateCodecKeySpec('dev1'));

  const sink = await startWebhookSink(config.devSinkPort, (line) => console.log(`[sink] ${line}`));
  stoppers.push(() => new Promise((r) => sink.close(r)));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    JOBPLANE_WEBHOOK_SIGNING_SECRET: signingSecret,
    JOBPLANE_PLATFORM_KEY: platformKey,
    JOBPLANE_CODEC_KEYS: codecKeys,
    // The dev sink listens on loopback; production keeps the private-range block unless configured.
    JOBPLANE_WEBHOOK_ALLOWED_HOSTS: process.env.JOBPLANE_WEBHOOK_ALLOWED_HOSTS ?? '127.0.0.1',
    JOBPLANE_WORKER_SHUTDOWN_GRACE_MS: process.env.JOBPLANE_WORKER_SHUTDOWN_GRACE_MS ?? '5000',
  };
  const tsx = ['--import', 'tsx'];
  const api: Child = spawnChild('api', process.execPath, [...tsx, path.join(root, 'api/main.ts')], env);
  const workers: Child = spawnChild('workers', process.execPath, [...tsx, path.join(root, 'workers/main.ts')], env);
  stoppers.push(() => workers.stop(), () => api.stop());
  await Promise.all([
    waitForHttp(`http://127.0.0.1:${config.port}/readyz`, 60_000, api),
    config.workerHealthAddress ? waitForHttp(`http://${config.workerHealthAddress}/readyz`, 120_000, workers) : Promise.resolve(),
  ]);
  printBanner(devKey, Date.now() - started, temporal?.description ?? `already running at ${config.temporalAddress}`);
}

/** Polls a readiness URL until it answers 200; fails early if the child exits. */
async function waitForHttp(url: string, timeoutMs: number, child: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited with code ${child.process.exitCode}`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${child.name} not ready at ${url} after ${timeoutMs} ms`);
}

function printBanner(devKey: { key: string; created: boolean }, ms: number, temporal: string) {
  const api = `http://localhost:${config.port}`;
  const keyFile = path.join(config.dataDir, 'dev-api-key');
  const body = JSON.stringify({
    type: 'webhook.deliver',
    input: { url: `http://127.0.0.1:${config.devSinkPort}/hooks/demo`, payload: { hello: 'world' }, eventType: 'demo.created' },
  });
  console.log(`
  Jobplane is ready (${(ms / 1000).toFixed(1)} s)

  API            ${api}        (ready: ${api}/readyz)
  API docs       ${api}/docs   (OpenAPI: ${api}/openapi.json)
  Temporal       ${temporal}
  Temporal UI    ${config.temporalUiUrl}
  Dev API key    ${devKey.created ? devKey.key + '  (new; saved to ' + keyFile + ')' : 'in ' + keyFile}   (tenant "dev", role admin)
  Platform key   in ${path.join(config.dataDir, 'platform-key')}   (manages tenants: POST ${api}/v1/tenants)

  Create a job:
    curl -s -X POST ${api}/v1/jobs \\
      -H "Authorization: Bearer $(cat ${keyFile})" \\
      -H 'Content-Type: application/json' \\
      -d '${body}'
  Follow it:
    curl -s ${api}/v1/jobs/<id> -H "Authorization: Bearer $(cat ${keyFile})"

  Ctrl-C stops everything; data stays in ${config.dataDir}/.
`);
}

main().catch((err) => {
  if (err instanceof ToolUnavailableError || err instanceof GoBinaryUnavailableError || err instanceof TemporalClusterError) console.error(err.message);
  else console.error(err);
  void shutdown(1);
});
