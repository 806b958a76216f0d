/**
 * W7 — worker CPU per job. For `noop` and for `webhook.deliver`, a fresh
 * worker child process (`workers/main.ts`, prebuilt bundle, only that job's
 * task queue) runs `BENCH_W7_N` jobs started with the SDK at
 * `BENCH_W7_CONCURRENCY` in flight, after a warm-up; the figure is the
 * process tree's CPU time (utime + stime from /proc) over the measured jobs,
 * divided by their count. Temporal's CPU over the same window is reported
 * beside it. With `BENCH_W7_CPU_PROF=<dir>` each worker process runs under
 * `--cpu-prof` and writes its profile there when it exits, so the costs can be
 * read in Chrome DevTools or `speedscope`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createTenant } from '../api/tenants/service.ts';
import { noop } from '../contracts/noop.ts';
import { webhookDeliver } from '../contracts/webhook-deliver.ts';
import { workflowIdFor } from '../contracts/workflow-ids.ts';
import { loadConfig } from '../runtime/config.ts';
import { newJobId } from '../runtime/ids.ts';
import { taskQueueName } from '../runtime/temporal.ts';
import { spawnWorkerProcess } from '../workers/pool/process.ts';
import { awaitClosed, deliveryInput } from './jobs.ts';
import { clockTicksPerSecond, treeTicks } from './proc-cpu.ts';
import { openDb, workloadEnv, type BenchBase } from './stack.ts';
import { round, runPool } from './util.ts';

export interface W7Settings {
  n: number;
  concurrency: number;
  warmup: number;
  /** Where each worker process writes its `--cpu-prof` profile; unset: no profile. */
  cpuProfDir?: string;
}

export interface WorkerCpuRow {
  jobType: string;
  jobs: number;
  /** Worker process tree CPU per measured job. */
  workerCpuMsPerJob: number;
  /** Every Temporal process's CPU over the same window, per job. */
  temporalCpuMsPerJob: number;
  jobsPerSec: number;
}

export interface W7Result {
  settings: W7Settings;
  rows: WorkerCpuRow[];
}

const jobTypes = [noop, webhookDeliver] as const;

export async function runW7(base: BenchBase, s: W7Settings, signal: AbortSignal, log: (m: string) => void): Promise<W7Result> {
  const bundleFile = path.join(os.tmpdir(), `jobplane-bench-bundle-${randomBytes(4).toString('hex')}.js`);
  writeFileSync(bundleFile, base.bundle.code);
  base.cleanup.add('w7 bundle file', async () => rmSync(bundleFile, { force: true }));
  const db = openDb(base, 'w7 db');
  const tenant = await createTenant(db, `bench-w7-${randomBytes(3).toString('hex')}`);
  const rows: WorkerCpuRow[] = [];
  for (const contract of jobTypes) {
    log(`W7: ${s.n} ${contract.type} jobs on one worker process, ${s.concurrency} in flight`);
    rows.push(await measure(base, s, contract, tenant.id, bundleFile, signal));
  }
  return { settings: s, rows };
}

async function measure(
  base: BenchBase,
  s: W7Settings,
  contract: (typeof jobTypes)[number],
  tenantId: string,
  bundleFile: string,
  signal: AbortSignal,
): Promise<WorkerCpuRow> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...workloadEnv(base, `w7-${contract.taskQueue}`),
    JOBPLANE_WORKER_TASK_QUEUES: contract.taskQueue,
    JOBPLANE_WORKFLOW_BUNDLE: bundleFile,
    JOBPLANE_LOG_LEVEL: 'warn',
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  };
  const config = loadConfig(env);
  const taskQueue = taskQueueName(config, contract.taskQueue);
  const relay = (line: string) => process.stderr.write(`[bench w7 ${contract.type}] ${line}\n`);
  // One directory per job type; Node names each thread's profile (main thread, workflow threads) itself.
  const profDir = s.cpuProfDir ? path.join(s.cpuProfDir, contract.taskQueue) : undefined;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const child = await spawnWorkerProcess({ id: 1, env, metrics: false, output: relay, readyTimeoutMs: 120_000, nodeArgs });
  base.cleanup.add(`w7 ${contract.type} worker process`, async () => void (await child.stop(10_000)));
  await child.ready;

  const input = contract.type === noop.type ? { tag: 'w7' } : deliveryInput(base.receiver.urlFor('w7', 0));
  const start = async () => {
    const jobId = newJobId();
    const handle = await base.client.workflow.start(contract.workflowType, { taskQueue, workflowId: workflowIdFor(tenantId, jobId), args: [{ tenantId, jobId, input }] });
    return handle.workflowId;
  };
  // Warm: the worker's first workflows pay for the bundle's first evaluation and JIT, which no steady job does.
  await awaitClosed(base.client, await runPool(s.warmup, s.concurrency, signal, start), signal);

  const clkTck = clockTicksPerSecond();
  const temporalTicks = () => base.temporal.pids().reduce((sum, pid) => sum + (treeTicks(pid) ?? 0), 0);
  const workerBefore = treeTicks(child.pid!) ?? 0;
  const temporalBefore = temporalTicks();
  const t0 = performance.now();
  await awaitClosed(base.client, await runPool(s.n, s.concurrency, signal, start), signal);
  const seconds = (performance.now() - t0) / 1000;
  const workerTicks = (treeTicks(child.pid!) ?? workerBefore) - workerBefore;
  const temporalCpuTicks = temporalTicks() - temporalBefore;
  // A clean exit, so --cpu-prof writes its profile.
  await child.stop(15_000);
  return {
    jobType: contract.type,
    jobs: s.n,
    workerCpuMsPerJob: round(((workerTicks / clkTck) * 1000) / s.n, 1),
    temporalCpuMsPerJob: round(((temporalCpuTicks / clkTck) * 1000) / s.n, 1),
    jobsPerSec: round(s.n / seconds, 1),
  };
}
