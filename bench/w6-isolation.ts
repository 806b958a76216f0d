/**
 * W6 — tenant isolation at the API. The API in a process of its own (as
 * `npm start` and Kubernetes run it) and workers in another; tenant B makes
 * `n` sequential creates while the API is quiet, then again while tenant A
 * floods creates from `floodConcurrency` loops as fast as the API answers
 * (A's own quota, the default 50/s, refuses most of them: the flood is what
 * an over-eager or broken client does). The figure: B's p99 under the flood
 * against its quiet p99 (the bar is at most 2×).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { createApiKey, createTenant } from '../api/tenants/service.ts';
import { tenants } from '../db/schema/index.ts';
import { freePort } from '../runtime/host-port.ts';
import { spawnWorkerProcess } from '../workers/pool/process.ts';
import { openDb, workloadEnv, type BenchBase } from './stack.ts';
import { round, summarize, timeMs, type Summary } from './util.ts';

export interface W6Settings {
  n: number;
  floodConcurrency: number;
  /** Tenant A's create quota (jobs/s; its burst is twice that): what the flood may have accepted. */
  floodRatePerSecond: number;
}

export interface W6Result {
  settings: W6Settings;
  quiet: Summary;
  flooded: Summary;
  /** What A's flood got: statuses and how many requests. */
  flood: { requests: number; perSecond: number; statuses: Record<string, number> };
  ratio: { p50: number; p99: number };
}

const repoRoot = path.resolve(import.meta.dirname, '..');

async function startApiProcess(env: Record<string, string>, signal: AbortSignal): Promise<{ url: string; process: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'api/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, ...env, PORT: String(port), JOBPLANE_API_METRICS_ADDRESS: '', JOBPLANE_LOG_LEVEL: 'silent' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    signal.throwIfAborted();
    if (await fetch(`${url}/readyz`).then((r) => r.ok, () => false)) return { url, process: child };
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error('W6: the API process did not become ready');
}

export async function runW6(base: BenchBase, s: W6Settings, signal: AbortSignal, log: (line: string) => void): Promise<W6Result> {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...workloadEnv(base, 'w6'), JOBPLANE_WORKER_TASK_QUEUES: 'default' };
  const db = openDb(base, 'w6 db');
  const keyOf = async (name: string, rate?: number) => {
    const tenant = await createTenant(db, `bench-w6-${name}`);
    if (rate) await db.update(tenants).set({ createRatePerSecond: rate, createBurst: Math.max(1, Math.ceil(rate * 2)) }).where(eq(tenants.id, tenant.id));
    return (await createApiKey(db, tenant.id, { name, role: 'submitter' })).key;
  };
  const [quietKey, floodKey] = [await keyOf('b'), await keyOf('a', s.floodRatePerSecond)];
  const api = await startApiProcess(env, signal);
  base.cleanup.add('w6 api process', async () => {
    const exited = new Promise((resolve) => api.process.once('exit', resolve));
    api.process.kill('SIGTERM');
    const killer = setTimeout(() => api.process.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
  });
  const worker = await spawnWorkerProcess({ id: 6, env, metrics: false, output: () => {}, readyTimeoutMs: 120_000 });
  base.cleanup.add('w6 worker process', async () => void (await worker.stop(5000)));
  await worker.ready;

  const create = (key: string) =>
    fetch(`${api.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'noop', input: {} }),
      signal,
    });
  const timedCreates = async (n: number) => {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      samples.push(
        await timeMs(async () => {
          const res = await create(quietKey);
          await res.body?.cancel();
          if (res.status !== 201) throw new Error(`W6: tenant B's create answered ${res.status}`);
        }),
      );
      // Spaced like a steady client, so B never meets its own rate limit.
      await new Promise((r) => setTimeout(r, 25));
    }
    return samples;
  };

  // Warm-up of both tenants' paths (auth, quotas, the first start).
  await timedCreates(10);
  for (let i = 0; i < 5; i++) await (await create(floodKey)).body?.cancel();

  log(`W6: ${s.n} creates of tenant B, quiet, then while tenant A (quota ${s.floodRatePerSecond}/s) floods from ${s.floodConcurrency} loops`);
  const quiet = await timedCreates(s.n);
  const statuses: Record<string, number> = {};
  let flooding = true;
  let requests = 0;
  const floodStart = Date.now();
  const flood = Array.from({ length: s.floodConcurrency }, async () => {
    while (flooding && !signal.aborted) {
      const res = await create(floodKey).catch(() => undefined);
      requests++;
      const status = String(res?.status ?? 'error');
      statuses[status] = (statuses[status] ?? 0) + 1;
      await res?.body?.cancel();
    }
  });
  // Let the flood reach its pace first.
  await new Promise((r) => setTimeout(r, 1000));
  const flooded = await timedCreates(s.n);
  flooding = false;
  await Promise.all(flood);
  const seconds = (Date.now() - floodStart) / 1000;

  const q = summarize(quiet);
  const f = summarize(flooded);
  return {
    settings: s,
    quiet: q,
    flooded: f,
    flood: { requests, perSecond: round(requests / seconds, 1), statuses },
    ratio: { p50: round(f.p50 / q.p50), p99: round(f.p99 / q.p99) },
  };
}
