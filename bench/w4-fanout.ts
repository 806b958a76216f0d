/**
 * W4 — fan-out. N no-op items as ONE `batch.run` job (a stored list uploaded
 * through the API, then the batch created through the API), against the same
 * N no-op items started one by one as separate workflows with the SDK, in the
 * same run. Each phase gets a fresh worker child process (`workers/main.ts`)
 * on its own task-queue prefix, so its peak RSS (`VmHWM` of
 * `/proc/<pid>/status`) belongs to that phase alone.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createApp } from '../api/app.ts';
import { createApiKey, createTenant } from '../api/tenants/service.ts';
import { noop } from '../contracts/noop.ts';
import { loadConfig } from '../runtime/config.ts';
import { createLogger } from '../runtime/logger.ts';
import { taskQueueName } from '../runtime/temporal.ts';
import { workflowIdFor } from '../contracts/workflow-ids.ts';
import { newJobId } from '../runtime/ids.ts';
import { spawnWorkerProcess } from '../workers/pool/process.ts';
import { serveFetch } from './http.ts';
import { awaitClosed } from './jobs.ts';
import { openDb, workloadEnv, type BenchBase } from './stack.ts';
import { round, runPool, untilAborted } from './util.ts';
import { clockTicksPerSecond, treeTicks } from './proc-cpu.ts';

export interface W4Settings {
  n: number;
  /** Children of the batch running at once. */
  concurrency: number;
  /** Starts in flight in the one-by-one phase. */
  submitConcurrency: number;
}

export interface FanoutPhase {
  phase: 'batch' | 'separate';
  items: number;
  /** First request → every item closed. */
  seconds: number;
  itemsPerSec: number;
  /** Peak resident set size of the phase's worker process. */
  workerPeakRssMiB: number;
  /** CPU of the phase's worker process tree per item (utime + stime from /proc). */
  workerCpuMsPerItem: number;
  /** Batch only: runs of the continue-as-new chain. */
  runs?: number;
}

export interface W4Result {
  settings: W4Settings;
  batch: FanoutPhase;
  separate: FanoutPhase;
  /** batch / separate: items/s (>1: the batch is faster) and peak RSS (<1: the batch needs less memory). */
  ratio: { itemsPerSec: number; workerPeakRss: number };
}

export async function runW4(base: BenchBase, s: W4Settings, signal: AbortSignal, log: (m: string) => void): Promise<W4Result> {
  const bundleFile = path.join(os.tmpdir(), `jobplane-bench-bundle-${randomBytes(4).toString('hex')}.js`);
  writeFileSync(bundleFile, base.bundle.code);
  base.cleanup.add('w4 bundle file', async () => rmSync(bundleFile, { force: true }));
  log(`W4: ${s.n} noop items as one batch.run (concurrency ${s.concurrency})`);
  const batch = await phase(base, s, 'batch', bundleFile, signal);
  log(`W4: ${s.n} noop workflows started one by one (${s.submitConcurrency} in flight)`);
  const separate = await phase(base, s, 'separate', bundleFile, signal);
  return {
    settings: s,
    batch,
    separate,
    ratio: { itemsPerSec: round(batch.itemsPerSec / separate.itemsPerSec), workerPeakRss: round(batch.workerPeakRssMiB / separate.workerPeakRssMiB) },
  };
}

async function phase(base: BenchBase, s: W4Settings, name: FanoutPhase['phase'], bundleFile: string, signal: AbortSignal): Promise<FanoutPhase> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...workloadEnv(base, `w4-${name}`),
    JOBPLANE_WORKER_TASK_QUEUES: noop.taskQueue,
    JOBPLANE_WORKFLOW_BUNDLE: bundleFile,
    JOBPLANE_LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  };
  const config = loadConfig(env);
  const relay = (line: string) => process.stderr.write(`[bench w4 ${name}] ${line}\n`);
  const child = await spawnWorkerProcess({ id: 1, env, metrics: false, output: relay, readyTimeoutMs: 120_000 });
  base.cleanup.add(`w4 ${name} worker process`, async () => void (await child.stop(10_000)));
  await child.ready;
  const db = openDb(base, `w4 ${name} api db`);
  const tenant = await createTenant(db, `bench-w4-${name}-${randomBytes(3).toString('hex')}`);

  const cpuBefore = treeTicks(child.pid!) ?? 0;
  const t0 = performance.now();
  let runs: number | undefined;
  if (name === 'batch') {
    const { key } = await createApiKey(db, tenant.id, { name: 'bench submitter', role: 'submitter' });
    // The list must fit however large BENCH_W4_N is set.
    const app = createApp({ config: { ...config, batchInputMaxItems: Math.max(config.batchInputMaxItems, s.n) }, db, client: base.client, log: createLogger('bench-api', 'silent') });
    const api = await serveFetch(app.fetch);
    base.cleanup.add('w4 api server', () => api.close());
    const headers = { authorization: `Bearer ${key}` };
    const body = Array.from({ length: s.n }, (_, i) => JSON.stringify({ tag: `w4-${i}` })).join('\n');
    const list = await fetch(`${api.url}/v1/batch-inputs?jobType=noop`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-ndjson' }, body, signal });
    const stored = (await list.json()) as { id?: string };
    if (list.status !== 201 || !stored.id) throw new Error(`POST /v1/batch-inputs answered ${list.status}: ${JSON.stringify(stored)}`);
    const created = await fetch(`${api.url}/v1/jobs`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify({ type: 'batch.run', input: { jobType: 'noop', itemsRef: stored.id, concurrency: s.concurrency } }),
      signal,
    });
    const job = (await created.json()) as { workflowId?: string };
    if (created.status !== 201 || !job.workflowId) throw new Error(`POST /v1/jobs answered ${created.status}: ${JSON.stringify(job)}`);
    const handle = base.client.workflow.getHandle(job.workflowId);
    const result = (await untilAborted(handle.result(), signal)) as { succeeded: number };
    if (result.succeeded !== s.n) throw new Error(`batch finished with ${result.succeeded}/${s.n} items succeeded`);
    runs = (await base.client.workflow.count(`WorkflowId = "${job.workflowId}"`)).count;
  } else {
    const taskQueue = taskQueueName(config, noop.taskQueue);
    const ids = await runPool(s.n, s.submitConcurrency, signal, async (i) => {
      const jobId = newJobId();
      const handle = await base.client.workflow.start(noop.workflowType, {
        taskQueue,
        workflowId: workflowIdFor(tenant.id, jobId),
        args: [{ tenantId: tenant.id, jobId, input: { tag: `w4-${i}` } }],
      });
      return handle.workflowId;
    });
    await awaitClosed(base.client, ids, signal);
  }
  const seconds = (performance.now() - t0) / 1000;
  const rss = peakRssMiB(child.pid);
  const cpuMs = (((treeTicks(child.pid!) ?? cpuBefore) - cpuBefore) / clockTicksPerSecond()) * 1000;
  await child.stop(10_000);
  return { phase: name, items: s.n, seconds: round(seconds, 1), itemsPerSec: round(s.n / seconds, 1), workerPeakRssMiB: rss, workerCpuMsPerItem: round(cpuMs / s.n, 1), ...(runs !== undefined && { runs }) };
}

/** `VmHWM` (peak resident set) of a live process, in MiB. */
function peakRssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return line ? round(Number(/(\d+)/.exec(line)![1]) / 1024, 0) : NaN;
}
