/**
 * One trace per job, end to end: the API request span, the client's
 * StartWorkflow span, the workflow's RunWorkflow/StartActivity spans (made in
 * the sandbox, exported through the workers' sink) and the worker's
 * RunActivity span all share one trace id, seen by an in-memory exporter
 * installed in this process (API and in-process workers share the provider).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serve, type ServerType } from '@hono/node-server';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type { Client } from '@temporalio/client';
import { createApp } from '../../api/app.ts';
import { createLogger } from '../../runtime/logger.ts';
import { connectClient } from '../../runtime/temporal.ts';
import { installTracing, shutdownTracing } from '../../runtime/tracing.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { createJob } from '../helpers/http.ts';

const exporter = new InMemorySpanExporter();
let stack: TestStack;
let receiver: Receiver;
/** The production client (connectClient: codec + tracing interceptor) behind the production app. */
let client: Client;
let server: ServerType;
let apiUrl: string;

beforeAll(async () => {
  installTracing({ serviceName: 'jobplane-test', exporter, simple: true });
  stack = await startTestStack('tracing');
  await stack.startWorkers();
  receiver = await startReceiver(() => ({ status: 200 }));
  client = await connectClient(stack.config);
  const app = createApp({ config: stack.config, db: stack.db, client, log: createLogger('api-test', 'silent') });
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  await client?.connection.close();
  await receiver?.close();
  await stack?.close();
  await shutdownTracing();
});

/** Through this file's traced API server, not the stack's own. */
const tracedApi = { api: (pathname: string, init: RequestInit = {}) => fetch(`${apiUrl}${pathname}`, init) };
const traced = () => createJob(tracedApi, { type: 'webhook.deliver', input: { url: receiver.url, payload: { traced: true } } }, { key: stack.keys.submitter });

const traceId = (s: ReadableSpan) => s.spanContext().traceId;

/** The spans of the job's trace, found from its RunWorkflow span; waits for the workflow's sink export. */
async function traceOf(workflowId: string, expected: RegExp[]): Promise<ReadableSpan[]> {
  return await vi.waitFor(
    () => {
      const all = exporter.getFinishedSpans();
      const run = all.find((s) => s.name.startsWith('RunWorkflow:') && Object.values(s.attributes).includes(workflowId));
      const spans = run ? all.filter((s) => traceId(s) === traceId(run)) : [];
      if (!run || !expected.every((re) => spans.some((s) => re.test(s.name)))) {
        throw new Error(`trace of ${workflowId} incomplete; spans: ${all.map((s) => `${s.name}@${traceId(s)}`).join(', ')}`);
      }
      return spans;
    },
    { timeout: 15_000, interval: 100 },
  );
}

const expectedNames = [
  /^POST \/v1\/jobs$/,
  /^StartWorkflow:webhookDeliverWorkflow$/,
  /^RunWorkflow:webhookDeliverWorkflow$/,
  /^StartActivity:deliverWebhook$/,
  /^RunActivity:deliverWebhook$/,
];

describe('tracing', () => {
  it('API, workflow and activity spans of one job share one trace id; two jobs, two traces', async () => {
    const first = await traced();
    const second = await traced();
    expect(await waitForJob(stack, first.id)).toMatchObject({ status: 'succeeded' });
    expect(await waitForJob(stack, second.id)).toMatchObject({ status: 'succeeded' });

    const a = await traceOf(first.workflowId, expectedNames);
    const b = await traceOf(second.workflowId, expectedNames);
    const byName = (spans: ReadableSpan[], re: RegExp) => spans.filter((s) => re.test(s.name));

    for (const spans of [a, b]) {
      // Exactly one request span per trace: the POST that created this job, the root.
      const [request, ...others] = byName(spans, expectedNames[0]!);
      expect(others).toHaveLength(0);
      expect(request!.parentSpanId).toBeUndefined();
      expect(request!.attributes).toMatchObject({
        'http.method': 'POST',
        'http.route': '/v1/jobs',
        'http.status_code': 201,
        'jobplane.tenant_id': stack.tenantId,
      });
      // Parent chain: request → StartWorkflow → RunWorkflow → StartActivity → RunActivity.
      const chain = expectedNames.map((re) => byName(spans, re)[0]!);
      for (let i = 1; i < chain.length; i++) expect(chain[i]!.parentSpanId, chain[i]!.name).toBe(chain[i - 1]!.spanContext().spanId);
      expect(new Set(spans.map(traceId)).size).toBe(1);
    }
    expect(traceId(a[0]!)).not.toBe(traceId(b[0]!));
    expect(receiver.requests).toHaveLength(2);
  });

  it('a batch’s children continue its trace: RunWorkflow → StartChildWorkflow → the child’s RunWorkflow', async () => {
    const job = await createJob(tracedApi, { type: 'batch.run', input: { jobType: 'noop', items: [{ tag: 'traced-0' }, { tag: 'traced-1' }] } }, { key: stack.keys.submitter });
    expect(await waitForJob(stack, job.id)).toMatchObject({ status: 'succeeded' });
    const spans = await traceOf(job.workflowId, [/^RunWorkflow:batchRunWorkflow$/, /^StartChildWorkflow:noopWorkflow$/, /^RunWorkflow:noopWorkflow$/]);
    const batch = spans.find((s) => s.name === 'RunWorkflow:batchRunWorkflow')!;
    const starts = spans.filter((s) => s.name === 'StartChildWorkflow:noopWorkflow');
    const children = spans.filter((s) => s.name === 'RunWorkflow:noopWorkflow');
    expect(starts).toHaveLength(2);
    expect(children).toHaveLength(2);
    for (const start of starts) expect(start.parentSpanId).toBe(batch.spanContext().spanId);
    // Each child's run hangs under the span that started it.
    expect(new Set(children.map((c) => c.parentSpanId))).toEqual(new Set(starts.map((s) => s.spanContext().spanId)));
    for (const span of [batch, ...starts, ...children]) expect(span.status.code, span.name).toBe(1); // OK
  });
});
