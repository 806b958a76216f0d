/**
 * W2 — throughput. M deliveries created through the API with a fixed number
 * of requests in flight, timed from the first create until every workflow has
 * closed, against M workflows started straight with the SDK at the same
 * concurrency and run by the same workers on the same task queue.
 */
import { performance } from 'node:perf_hooks';
import { awaitClosed, createViaApi, deliveryInput, startViaSdk } from './jobs.ts';
import { startWorkload, type BenchBase, type Workload } from './stack.ts';
import { round, runPool } from './util.ts';

export interface ThroughputFigure {
  jobs: number;
  /** First create → last workflow closed. */
  seconds: number;
  /** First create → last create answered. */
  submitSeconds: number;
  jobsPerSec: number;
  /** Requests the receiver saw for this phase (one per job when nothing retried). */
  deliveries: number;
}

export interface W2Result {
  n: number;
  concurrency: number;
  api: ThroughputFigure;
  sdk: ThroughputFigure;
  /** api / sdk jobs per second: 1 means the API costs no throughput. */
  ratio: number;
}

type Start = (wl: Workload, input: ReturnType<typeof deliveryInput>) => Promise<string>;

export async function runW2(base: BenchBase, m: number, concurrency: number, warmup: number, signal: AbortSignal): Promise<W2Result> {
  const wl = await startWorkload(base, 'w2');
  // Warm-up on these workers (new task queue, cold workflow cache) before any clock runs.
  await phase(base, wl, 'w2-warmup', createViaApi, warmup, concurrency, signal);
  await phase(base, wl, 'w2-warmup', startViaSdk, warmup, concurrency, signal);

  const api = await phase(base, wl, 'w2-api', createViaApi, m, concurrency, signal);
  const sdk = await phase(base, wl, 'w2-sdk', startViaSdk, m, concurrency, signal);
  return { n: m, concurrency, api, sdk, ratio: round(api.jobsPerSec / sdk.jobsPerSec) };
}

async function phase(
  base: BenchBase,
  wl: Workload,
  path: string,
  start: Start,
  jobs: number,
  concurrency: number,
  signal: AbortSignal,
): Promise<ThroughputFigure> {
  const input = deliveryInput(base.receiver.urlFor(path));
  const t0 = performance.now();
  const ids = await runPool(jobs, concurrency, signal, () => start(wl, input));
  const submitted = performance.now();
  await awaitClosed(wl.client, ids, signal);
  const seconds = (performance.now() - t0) / 1000;
  return {
    jobs,
    seconds: round(seconds, 3),
    submitSeconds: round((submitted - t0) / 1000, 3),
    jobsPerSec: round(jobs / seconds, 1),
    deliveries: base.receiver.count(path),
  };
}
