/**
 * `npm run bench:peers`: the same two workloads on Jobplane and its peers,
 * side by side in one run and at equal durability (every engine fsyncs each
 * acknowledged write). Each peer runs in a child process of its own
 * (one.ts), one after another, against one Postgres server; the figures go
 * to a table on stdout and `bench/results/peers-<start time>.json`.
 *
 * `BENCH_PEERS=bullmq,graphile` chooses peers; sizes come from
 * `BENCH_PEERS_N`, `BENCH_PEERS_THROUGHPUT_N`, `BENCH_PEERS_CONCURRENCY`,
 * `BENCH_PEERS_WARMUP` (see bench/README.md).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { settings as appSettings } from '../../runtime/config.ts';
import { startEmbeddedPostgres } from '../../scripts/lib/postgres.ts';
import { Cleanup } from '../cleanup.ts';
import { machineInfo } from '../report.ts';
import { envInt } from '../util.ts';
import { formatPeers, writePeerResults, type PeersResults } from './report.ts';
import { peerOrder, settingsFromEnv, type PeerResult } from './peers.ts';

const here = import.meta.dirname;
const root = path.resolve(here, '../..');
/** Same port as `npm run bench`'s embedded Postgres: the two never run at once (both take the bench lock in practice). */
const embeddedPgPort = 5497;

function log(message: string): void {
  process.stderr.write(`[bench:peers] ${message}\n`);
}

function chosenPeers(): string[] {
  const wanted = (process.env.BENCH_PEERS ?? '').split(',').map((p) => p.trim().toLowerCase()).filter(Boolean);
  const unknown = wanted.filter((p) => !peerOrder.includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_PEERS: unknown peer(s) ${unknown.join(', ')}; known: ${peerOrder.join(', ')}`);
  return wanted.length > 0 ? peerOrder.filter((p) => wanted.includes(p)) : peerOrder;
}

/** The peers' packages live apart from the app's: installed from bench/peers' own lockfile the first time. */
function ensurePeerPackages(): void {
  if (existsSync(path.join(here, 'node_modules'))) return;
  log('installing bench/peers packages (npm install --prefix bench/peers)');
  execFileSync('npm', ['install', '--prefix', here, '--no-audit', '--no-fund'], { stdio: ['ignore', process.stderr, process.stderr] });
}

function runPeer(name: string, serverUrl: string, dir: string, timeoutMs: number, onChild: (stop: () => void) => void): Promise<PeerResult> {
  const out = path.join(dir, `${name}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'one.ts'), name, out], {
      cwd: root,
      env: { ...process.env, DATABASE_URL: serverUrl },
      stdio: ['ignore', process.stderr, process.stderr],
    });
    const stop = () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 30_000).unref();
    };
    onChild(stop);
    const timer = setTimeout(() => {
      log(`${name}: no result within ${timeoutMs} ms, stopping it`);
      stop();
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && existsSync(out)) resolve(JSON.parse(readFileSync(out, 'utf8')) as PeerResult);
      else reject(new Error(`${name} exited with ${signal ?? code}`));
    });
  });
}

async function main(): Promise<void> {
  const startedAt = new Date().toISOString();
  const peers = chosenPeers();
  const timeoutMs = envInt('BENCH_PEERS_TIMEOUT_MS', 15 * 60_000);
  ensurePeerPackages();
  const cleanup = new Cleanup();
  let stopCurrent: (() => void) | undefined;
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log('interrupted: stopping the running peer');
    stopCurrent?.();
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  const dir = mkdtempSync(path.join(tmpdir(), 'jobplane-peers-results-'));
  cleanup.add('results dir', async () => rmSync(dir, { recursive: true, force: true }));
  try {
    let serverUrl = process.env.DATABASE_URL;
    const postgresSource = serverUrl ? 'DATABASE_URL' : 'embedded';
    if (!serverUrl) {
      const pg = await startEmbeddedPostgres(path.resolve(root, process.env.JOBPLANE_DATA_DIR || appSettings.dataDir.default!, 'bench-postgres'), embeddedPgPort);
      cleanup.add('embedded postgres', () => pg.stop());
      serverUrl = pg.url;
    }
    const results: PeerResult[] = [];
    const failures: Record<string, string> = {};
    for (const name of peers) {
      if (interrupted) break;
      log(`peer ${name}`);
      try {
        results.push(await runPeer(name, serverUrl, dir, timeoutMs, (stop) => (stopCurrent = stop)));
      } catch (err) {
        failures[name] = (err as Error).message;
        log(`${name} failed: ${(err as Error).message}`);
      }
    }
    const report: PeersResults = {
      startedAt,
      finishedAt: new Date().toISOString(),
      machine: machineInfo(),
      postgres: postgresSource,
      settings: settingsFromEnv(),
      peers: results,
      failures,
    };
    console.log(formatPeers(report));
    log(`wrote ${writePeerResults(report)}`);
    if (Object.keys(failures).length > 0 || interrupted) process.exitCode = 1;
  } finally {
    for (const f of await cleanup.run()) log(`cleanup: ${f}`);
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}

await main();
