/**
 * W1 — start latency. Sequential job creates through the API against the bare
 * SDK start of the same workflow (baseline 1), and a do-nothing Hono route on
 * the same kind of server (baseline 2: HTTP alone), and one single-row
 * Postgres insert-and-commit (baseline 3: the price of one durable write). The four are interleaved
 * request by request, rotating the order, so drift on the machine (GC, the dev
 * server compacting, workers delivering earlier jobs) lands on all of them alike.
 */
import postgres from 'postgres';
import type { WebhookDeliverInput } from '../contracts/webhook-deliver.ts';
import { awaitClosed, createViaApi, deliveryInput, postPlain, startViaSdk } from './jobs.ts';
import { plainApp, serveFetch } from './http.ts';
import { startWorkload, type BenchBase } from './stack.ts';
import { round, summarize, timeMs, type Summary } from './util.ts';

export interface W1Result {
  n: number;
  warmup: number;
  api: Summary;
  sdk: Summary;
  plainHttp: Summary;
  postgresCommit: Summary;
  /** api / sdk: how many times slower a create through the API is than the SDK call it wraps. */
  ratio: { p50: number; p99: number };
}

type Op = 'api' | 'sdk' | 'plainHttp' | 'postgresCommit';
const ops: Op[] = ['api', 'sdk', 'plainHttp', 'postgresCommit'];

export async function runW1(base: BenchBase, n: number, warmup: number, signal: AbortSignal): Promise<W1Result> {
  const wl = await startWorkload(base, 'w1');
  const plain = await serveFetch(plainApp().fetch);
  base.cleanup.add('w1 plain server', () => plain.close());
  const sql = postgres(base.databaseUrl, { max: 1, onnotice: () => {} });
  base.cleanup.add('w1 postgres baseline', () => sql.end({ timeout: 5 }));
  const input = deliveryInput(base.receiver.urlFor('w1'));
  const started: string[] = [];
  const call: Record<Op, (input: WebhookDeliverInput) => Promise<unknown>> = {
    api: async (i) => started.push(await createViaApi(wl, i)),
    sdk: async (i) => started.push(await startViaSdk(wl, i)),
    plainHttp: (i) => postPlain(`${plain.url}/x`, i, signal),
    postgresCommit: () => sql`insert into audit_events (action, outcome) values ('bench.commit', 'succeeded')`,
  };

  // Warm-up: connection pools, JIT, the first workflow task on fresh workers.
  for (let i = 0; i < warmup; i++) for (const op of ops) await call[op](input);
  const samples: Record<Op, number[]> = { api: [], sdk: [], plainHttp: [], postgresCommit: [] };
  for (let i = 0; i < n; i++) {
    signal.throwIfAborted();
    for (const op of rotate(ops, i)) samples[op].push(await timeMs(() => call[op](input)));
  }
  // Let the deliveries finish so W2 starts on a quiet server.
  await awaitClosed(wl.client, started, signal);

  const api = summarize(samples.api);
  const sdk = summarize(samples.sdk);
  return {
    n,
    warmup,
    api,
    sdk,
    plainHttp: summarize(samples.plainHttp),
    postgresCommit: summarize(samples.postgresCommit),
    ratio: { p50: round(api.p50 / sdk.p50), p99: round(api.p99 / sdk.p99) },
  };
}

function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
