/**
 * W1 — start latency. Sequential job creates through the API against the bare
 * SDK start of the same workflow (baseline 1), and a do-nothing Hono route on
 * the same kind of server (baseline 2: HTTP alone), and one single-row
 * Postgres insert-and-commit (baseline 3: the price of one durable write), and
 * the very start the API makes (domain/jobs/start.ts: search attributes,
 * fairness key, the Web UI's summary and details, all encrypted) called
 * straight from the SDK (baseline 4: what the API's start costs before any of
 * the API runs). The five are interleaved
 * request by request, rotating the order, so drift on the machine (GC, the dev
 * server compacting, workers delivering earlier jobs) lands on all of them alike.
 *
 * Each API create also reports where its time went (its `Server-Timing`:
 * auth, limits, claim, the Temporal start, record); what the client measured
 * beyond the server's `total` is HTTP and the client itself.
 */
import postgres from 'postgres';
import { webhookDeliver, type WebhookDeliverInput } from '../contracts/webhook-deliver.ts';
import { workflowIdFor } from '../contracts/workflow-ids.ts';
import type { JobRow } from '../db/schema/index.ts';
import { startJobWorkflow } from '../domain/jobs/start.ts';
import { newJobId } from '../runtime/ids.ts';
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
  /** The API's own start call (domain/jobs/start.ts) made straight from the SDK. */
  sdkAsApi: Summary;
  /** api / sdk: how many times slower a create through the API is than the SDK call it wraps. */
  ratio: { p50: number; p99: number };
  /** Per phase of an API create (ms, from its Server-Timing), plus `outside` = client-measured minus the server's total. */
  apiPhases: Record<string, Summary>;
}

export const createPhases = ['auth', 'limits', 'claim', 'start', 'record', 'total', 'outside'] as const;

type Op = 'api' | 'sdk' | 'plainHttp' | 'postgresCommit' | 'sdkAsApi';
const ops: Op[] = ['api', 'sdk', 'plainHttp', 'postgresCommit', 'sdkAsApi'];

export async function runW1(base: BenchBase, n: number, warmup: number, signal: AbortSignal): Promise<W1Result> {
  const wl = await startWorkload(base, 'w1');
  const plain = await serveFetch(plainApp().fetch);
  base.cleanup.add('w1 plain server', () => plain.close());
  const sql = postgres(base.databaseUrl, { max: 1, onnotice: () => {} });
  base.cleanup.add('w1 postgres baseline', () => sql.end({ timeout: 5 }));
  const input = deliveryInput(base.receiver.urlFor('w1'));
  const started: string[] = [];
  let lastPhases: Record<string, number> = {};
  const call: Record<Op, (input: WebhookDeliverInput) => Promise<unknown>> = {
    api: async (i) => started.push(await createViaApi(wl, i, (p) => (lastPhases = p))),
    sdk: async (i) => started.push(await startViaSdk(wl, i)),
    plainHttp: (i) => postPlain(`${plain.url}/x`, i, signal),
    postgresCommit: () => sql`insert into audit_events (action, outcome) values ('bench.commit', 'succeeded')`,
    sdkAsApi: async (i) => {
      const id = newJobId();
      // Only what the start reads of a row: no row is written, as no API runs.
      const row = { id, tenantId: wl.tenantId, workflowId: workflowIdFor(wl.tenantId, id), type: webhookDeliver.type, labels: [], priority: null } as unknown as JobRow;
      await startJobWorkflow({ client: wl.client, config: wl.config }, webhookDeliver, row, i);
      started.push(row.workflowId);
    },
  };

  // Warm-up: connection pools, JIT, the first workflow task on fresh workers.
  for (let i = 0; i < warmup; i++) for (const op of ops) await call[op](input);
  const samples: Record<Op, number[]> = { api: [], sdk: [], plainHttp: [], postgresCommit: [], sdkAsApi: [] };
  const phases: Record<string, number[]> = Object.fromEntries(createPhases.map((p) => [p, []]));
  for (let i = 0; i < n; i++) {
    signal.throwIfAborted();
    for (const op of rotate(ops, i)) {
      const ms = await timeMs(() => call[op](input));
      samples[op].push(ms);
      if (op !== 'api') continue;
      for (const [name, dur] of Object.entries(lastPhases)) phases[name]?.push(dur);
      if (lastPhases.total !== undefined) phases.outside!.push(ms - lastPhases.total);
    }
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
    sdkAsApi: summarize(samples.sdkAsApi),
    ratio: { p50: round(api.p50 / sdk.p50), p99: round(api.p99 / sdk.p99) },
    apiPhases: Object.fromEntries(Object.entries(phases).filter(([, s]) => s.length > 0).map(([name, s]) => [name, summarize(s)])),
  };
}

function rotate<T>(items: T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
