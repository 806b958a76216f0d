/**
 * `npm start` as a newcomer runs it: embedded Postgres, Temporal with its Web
 * UI (the dev server; in the cluster tier `JOBPLANE_TEMPORAL=cluster`, the
 * separate service processes on Postgres), the API and workers; the printed
 * curl creates a job that succeeds; Ctrl-C stops every child; a second start
 * finds the job.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort } from '../../runtime/host-port.ts';
import { freeClusterFrontendPort } from '../helpers/cluster.ts';
import { onCluster, repoRoot } from '../helpers/stack.ts';
import { waitAtMost } from '../helpers/poll.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'jobplane-dev-'));
let running: ChildProcess | undefined;

afterAll(() => {
  if (running?.pid && groupMembers(running.pid).length > 0) process.kill(-running.pid, 'SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

const topology = onCluster() ? 'cluster' : 'dev';

async function ports() {
  const temporal = topology === 'cluster' ? await freeClusterFrontendPort() : await freePort();
  return { api: await freePort(), temporal, ui: await freePort(), pg: await freePort(), sink: await freePort(), metrics: await freePort(), health: await freePort(), apiMetrics: await freePort() };
}

function startDev(p: Awaited<ReturnType<typeof ports>>): Promise<{ child: ChildProcess; output: () => string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(p.api),
    TEMPORAL_ADDRESS: `127.0.0.1:${p.temporal}`,
    TEMPORAL_UI_PORT: String(p.ui),
    JOBPLANE_EMBEDDED_PG_PORT: String(p.pg),
    JOBPLANE_DEV_SINK_PORT: String(p.sink),
    JOBPLANE_WORKER_METRICS_ADDRESS: `127.0.0.1:${p.metrics}`,
    JOBPLANE_WORKER_HEALTH_ADDRESS: `127.0.0.1:${p.health}`,
    JOBPLANE_API_METRICS_ADDRESS: `127.0.0.1:${p.apiMetrics}`,
    JOBPLANE_DATA_DIR: dataDir,
    JOBPLANE_LOG_LEVEL: 'warn',
    JOBPLANE_TEMPORAL: topology,
  };
  delete env.DATABASE_URL; // the embedded default is what a fresh machine gets
  // `npm start` itself, in a process group of its own as a terminal's foreground job is.
  const child = spawn('npm', ['start'], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running = child;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start not ready in 120 s:\n${out}`)), 120_000);
    const check = setInterval(() => {
      if (out.includes('Jobplane is ready')) {
        clearTimeout(timer);
        clearInterval(check);
        resolve({ child, output: () => out });
      }
    }, 100);
    child.once('exit', (code) => {
      clearTimeout(timer);
      clearInterval(check);
      reject(new Error(`npm start exited with ${code}:\n${out}`));
    });
  });
}

/**
 * {@link startDev}, on fresh ports when one the test picked was taken before
 * `npm start` bound it (another test file's server, between `freePort()` and
 * the bind): `npm start` rightly does not move a port it was told to use.
 * Answers the ports it ran on.
 */
async function startDevOnFreePorts(): Promise<{ child: ChildProcess; output: () => string; p: Awaited<ReturnType<typeof ports>> }> {
  for (let attempt = 1; ; attempt++) {
    const p = await ports();
    try {
      return { ...(await startDev(p)), p };
    } catch (err) {
      if (attempt === 3 || !/address already in use/i.test((err as Error).message)) throw err;
      // A second attempt starts from empty data again: nothing from the failed one may linger.
      rmSync(dataDir, { recursive: true, force: true });
      mkdirSync(dataDir, { recursive: true });
    }
  }
}

/** Pids of the processes still in the group (`ps -g`), but for `ps` itself. */
function groupMembers(pgid: number): number[] {
  const out = spawnSync('ps', ['-o', 'pid=', '-g', String(pgid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').map(Number).filter((pid) => pid > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ctrl-C as a terminal sends it: SIGINT to every process of the foreground
 * group (npm, its shell, tsx, and whatever they started there), not only to
 * npm. npm itself dies of the signal, as it does in a terminal; what it
 * started must stop in order and leave nothing behind. Resolves once the
 * whole group has gone; fails if anything is left after the grace time.
 */
async function stopDev(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const postmaster = Number(readFileSync(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(-child.pid!, 'SIGINT');
  await exited;
  await waitAtMost(() => groupMembers(child.pid!).length === 0 && !alive(postmaster), { timeout: 45_000, interval: 200 });
  expect(groupMembers(child.pid!), 'processes left in the npm start group').toEqual([]);
  expect(alive(postmaster), 'embedded Postgres still running').toBe(false);
}

it('starts the whole stack, runs the printed curl to success, stops cleanly and keeps data', async () => {
  const first = await startDevOnFreePorts();
  const p = first.p;
  const keyFile = path.join(dataDir, 'dev-api-key');
  expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  const key = readFileSync(keyFile, 'utf8').trim();
  expect(first.output()).toContain(key); // printed on first start

  // The printed curl, as a user would paste it.
  const curlBody = /-d '(\{.*\})'/.exec(first.output())![1]!;
  const auth = { authorization: `Bearer ${key}` };
  expect((await fetch(`http://127.0.0.1:${p.api}/readyz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${p.ui}/`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${p.api}/docs`)).status).toBe(200);
  // The platform key npm start generated manages tenants.
  const platformKey = readFileSync(path.join(dataDir, 'platform-key'), 'utf8').trim();
  expect(statSync(path.join(dataDir, 'platform-key')).mode & 0o777).toBe(0o600);
  const tenants = await fetch(`http://127.0.0.1:${p.api}/v1/tenants`, { headers: { authorization: `Bearer ${platformKey}` } });
  expect(((await tenants.json()) as { items: { id: string }[] }).items.map((t) => t.id)).toContain('dev');
  const created = await fetch(`http://127.0.0.1:${p.api}/v1/jobs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: curlBody });
  expect(created.status).toBe(201);
  const job = (await created.json()) as { id: string };
  await expect
    .poll(async () => ((await (await fetch(`http://127.0.0.1:${p.api}/v1/jobs/${job.id}`, { headers: auth })).json()) as { status?: string }).status, { timeout: 20_000, interval: 200 })
    .toBe('succeeded');

  if (topology === 'cluster') {
    expect(first.output()).toContain('Temporal       cluster: frontend');
    // One process per service, each with its pid file.
    for (const service of ['frontend', 'history', 'matching', 'worker']) {
      const pid = Number(readFileSync(path.join(dataDir, 'temporal-cluster', `${service}.pid`), 'utf8'));
      expect(() => process.kill(pid, 0), service).not.toThrow();
    }
  }

  const clusterPids =
    topology === 'cluster' ? ['frontend', 'history', 'matching', 'worker'].map((s) => Number(readFileSync(path.join(dataDir, 'temporal-cluster', `${s}.pid`), 'utf8'))) : [];
  await stopDev(first.child);
  expect(first.output()).toContain('[jobplane] stopped');
  for (const pid of clusterPids) expect(alive(pid), `cluster service ${pid} still running`).toBe(false);
  await expect(fetch(`http://127.0.0.1:${p.api}/healthz`)).rejects.toThrow();
  await expect(fetch(`http://127.0.0.1:${p.ui}/`)).rejects.toThrow();

  const second = await startDev(p);
  expect(second.output()).not.toContain(key); // the existing key is reused, not reprinted
  const again = await fetch(`http://127.0.0.1:${p.api}/v1/jobs/${job.id}`, { headers: auth });
  expect(((await again.json()) as { status: string }).status).toBe('succeeded');
  await stopDev(second.child);
  expect(second.output()).toContain('[jobplane] stopped');
}, 300_000);
