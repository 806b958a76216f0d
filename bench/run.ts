/**
 * `npm run bench`: W1 (start latency), W2 (throughput), W3 (burst: one
 * worker process against the local pool), W4 (fan-out: one batch.run
 * against the same items as separate workflows) and W5 (document ingestion)
 * on one Temporal dev server in one run (W6 isolation, W7 worker CPU, W8
 * outbox commit-to-start, W9 usage recording too), each against a baseline measured
 * side by side. `BENCH_WORKLOADS` (e.g. `w1,w4`) selects workloads. Bounded
 * by BENCH_TIMEOUT_MS; whatever happens, everything started is stopped.
 */
import { setMaxListeners } from 'node:events';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Cleanup, withTimeout } from './cleanup.ts';
import { formatResults, machineInfo, writeResults, type BenchResults } from './report.ts';
import { startBase } from './stack.ts';
import { envInt, untilAborted } from './util.ts';
import { runW1 } from './w1-start-latency.ts';
import { runW2 } from './w2-throughput.ts';
import { runW3 } from './w3-burst.ts';
import { runW4 } from './w4-fanout.ts';
import { runW5 } from './w5-documents.ts';
import { runW6 } from './w6-isolation.ts';
import { runW7 } from './w7-worker-cpu.ts';
import { runW8 } from './w8-outbox.ts';
import { runW9 } from './w9-usage.ts';

// Before any native connection: the Runtime can be installed only once, and
// worker chatter below WARN would bury the table.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** Every workload, in the order they run. */
const allWorkloads = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7', 'w8', 'w9'];

const settings = {
  w1N: envInt('BENCH_W1_N', 200),
  w2N: envInt('BENCH_W2_N', 500),
  w2Concurrency: envInt('BENCH_W2_CONCURRENCY', 16),
  warmup: envInt('BENCH_WARMUP', 10),
  w3: {
    n: envInt('BENCH_W3_N', 2000),
    slots: envInt('BENCH_W3_SLOTS', 10),
    poolMax: envInt('BENCH_W3_POOL_MAX', 3),
    receiverDelayMs: envInt('BENCH_W3_RECEIVER_DELAY_MS', 50),
    submitConcurrency: envInt('BENCH_W3_SUBMIT_CONCURRENCY', 64),
    historySample: envInt('BENCH_W3_HISTORY_SAMPLE', 200),
    poolIntervalMs: 1000,
    poolScaleDownWindowMs: 10_000,
    warmup: envInt('BENCH_WARMUP', 10),
  },
  w4: {
    n: envInt('BENCH_W4_N', 10_000),
    concurrency: envInt('BENCH_W4_CONCURRENCY', 200),
    submitConcurrency: envInt('BENCH_W4_SUBMIT_CONCURRENCY', 64),
  },
  w5: {
    n: envInt('BENCH_W5_N', 1000),
    concurrency: envInt('BENCH_W5_CONCURRENCY', 16),
    warmup: envInt('BENCH_WARMUP', 10),
    searchSample: envInt('BENCH_W5_SEARCH_SAMPLE', 50),
    sequential: envInt('BENCH_W5_SEQUENTIAL', 20),
  },
  w7: {
    n: envInt('BENCH_W7_N', 500),
    concurrency: envInt('BENCH_W7_CONCURRENCY', 16),
    warmup: envInt('BENCH_WARMUP', 10) * 5,
    ...(process.env.BENCH_W7_CPU_PROF ? { cpuProfDir: process.env.BENCH_W7_CPU_PROF } : {}),
  },
  w8: { n: envInt('BENCH_W8_N', 200), ratePerSecond: envInt('BENCH_W8_RATE', 20) },
  w9: { n: envInt('BENCH_W9_N', 300), concurrency: envInt('BENCH_W9_CONCURRENCY', 16) },
  w6: { n: envInt('BENCH_W6_N', 200), floodConcurrency: envInt('BENCH_W6_FLOOD_CONCURRENCY', 32), floodRatePerSecond: envInt('BENCH_W6_FLOOD_RATE', 50) },
  /** `BENCH_WORKLOADS=w4,w5` runs only those (comma-separated; default: all). */
  workloads: workloadsFromEnv(process.env.BENCH_WORKLOADS),
  // W4's 2 × 10,000 items take most of this on a shared 2-core machine.
  timeoutMs: envInt('BENCH_TIMEOUT_MS', 45 * 60_000),
};

function workloadsFromEnv(raw: string | undefined): Set<string> {
  const all = allWorkloads;
  const wanted = (raw ?? '').split(',').map((w) => w.trim().toLowerCase()).filter(Boolean);
  const unknown = wanted.filter((w) => !all.includes(w));
  if (unknown.length > 0) throw new Error(`BENCH_WORKLOADS: unknown workload(s) ${unknown.join(', ')}; known: ${all.join(', ')}`);
  return new Set(wanted.length > 0 ? wanted : all);
}

async function benchmark(cleanup: Cleanup, signal: AbortSignal): Promise<BenchResults> {
  const startedAt = new Date().toISOString();
  log(`starting Temporal (${process.env.BENCH_TEMPORAL === 'cluster' ? 'the production-shaped cluster' : 'the dev server'}), Postgres, receiver; bundling workflows`);
  const base = await startBase(cleanup, signal);
  signal.throwIfAborted();
  const on = (w: string) => settings.workloads.has(w);
  if (on('w1')) log(`W1: ${settings.w1N} sequential starts each via API, SDK and plain HTTP`);
  const w1 = on('w1') ? await runW1(base, settings.w1N, settings.warmup, signal) : undefined;
  if (on('w2')) log(`W2: ${settings.w2N} jobs via API, then via SDK, ${settings.w2Concurrency} in flight`);
  const w2 = on('w2') ? await runW2(base, settings.w2N, settings.w2Concurrency, settings.warmup, signal) : undefined;
  const w3 = on('w3') ? await runW3(base, settings.w3, signal, log) : undefined;
  const w4 = on('w4') ? await runW4(base, settings.w4, signal, log) : undefined;
  const w5 = on('w5') ? await runW5(base, settings.w5, signal, log) : undefined;
  const w6 = on('w6') ? await runW6(base, settings.w6, signal, log) : undefined;
  const w7 = on('w7') ? await runW7(base, settings.w7, signal, log) : undefined;
  const w8 = on('w8') ? await runW8(base, settings.w8, signal, log) : undefined;
  const w9 = on('w9') ? await runW9(base, settings.w9, signal, log) : undefined;
  return {
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    config: {
      w1N: settings.w1N,
      w2N: settings.w2N,
      w2Concurrency: settings.w2Concurrency,
      warmup: settings.warmup,
      postgres: base.postgres,
      postgresDurability: base.postgresDurability,
      temporalCli: base.temporalCliVersion,
      temporal: { engine: base.temporal.engine, durability: base.temporal.durability },
    },
    ...(w1 && { w1 }),
    ...(w2 && { w2 }),
    ...(w3 && { w3 }),
    ...(w4 && { w4 }),
    ...(w5 && { w5 }),
    ...(w6 && { w6 }),
    ...(w7 && { w7 }),
    ...(w8 && { w8 }),
    ...(w9 && { w9 }),
  };
}

/** Progress goes to stderr so stdout carries only the table. */
function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** Aborts on timeout or the first SIGINT/SIGTERM; a second signal exits at once. */
function stopSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  // Every awaited workflow result listens for the abort; dozens at once are expected, not a leak.
  setMaxListeners(0, controller.signal);
  const timer = setTimeout(() => controller.abort(new Error(`run exceeded BENCH_TIMEOUT_MS=${settings.timeoutMs}`)), settings.timeoutMs);
  let firstAt = 0;
  const onSignal = (name: NodeJS.Signals) => {
    // One Ctrl-C arrives twice (from the terminal and relayed by tsx): only a later one forces.
    if (firstAt && Date.now() - firstAt > 1000) process.exit(130);
    if (firstAt) return;
    firstAt = Date.now();
    log(`${name}: stopping (again to force)`);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    },
  };
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  const stop = stopSignal();
  const work = benchmark(cleanup, stop.signal);
  try {
    const results = await untilAborted(work, stop.signal);
    console.log(formatResults(results));
    for (const file of writeResults(results, { latest: allWorkloads.every((w) => settings.workloads.has(w)) })) log(`wrote ${file}`);
  } catch (err) {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
  } finally {
    // After an abort the run may still be starting something (the dev server,
    // Postgres); let it settle so its teardown is registered before we run it.
    await withTimeout(work.catch(() => {}), 30_000, 'run did not settle').catch((err: Error) => log(err.message));
    log('stopping everything');
    const failures = await cleanup.run();
    for (const f of failures) log(`cleanup: ${f}`);
    stop.dispose();
    // Everything is closed; do not let a stray handle keep the process up.
    setTimeout(() => process.exit(), 5_000).unref();
  }
}

await main();
