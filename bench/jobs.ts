/**
 * The operations the workloads time. The API path and the SDK path start the
 * same workflow type, with the same input, on the same task queue, so the
 * difference between them is what the API adds (auth, validation, Postgres
 * rows, search attributes, the describe behind the response).
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { newJobId } from '../runtime/ids.ts';
import { webhookDeliver, type WebhookDeliverInput } from '../contracts/webhook-deliver.ts';
import { workflowIdFor } from '../contracts/workflow-ids.ts';
import { runPool, untilAborted } from './util.ts';
import type { Workload } from './stack.ts';

/** The same small payload for every job, so payload size never differs between the two paths. */
export function deliveryInput(url: string): WebhookDeliverInput {
  return { url, payload: { event: 'bench', items: [1, 2, 3] }, eventType: 'bench.ping' };
}

/** `POST /v1/jobs`; returns the workflow id from the response. */
/** `Server-Timing: auth;dur=1.2, limits;dur=3.4, …` → { auth: 1.2, limits: 3.4, … } (ms). */
export function parseServerTiming(header: string | null): Record<string, number> {
  const phases: Record<string, number> = {};
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().split(';');
    const dur = params.map((p) => /^dur=([\d.]+)$/.exec(p.trim())?.[1]).find(Boolean);
    if (name && dur) phases[name] = Number(dur);
  }
  return phases;
}

export async function createViaApi(wl: Workload, input: WebhookDeliverInput, onTiming?: (phases: Record<string, number>) => void): Promise<string> {
  const res = await fetch(`${wl.apiUrl}/v1/jobs`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${wl.apiKey}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    },
    body: JSON.stringify({ type: webhookDeliver.type, input }),
    signal: wl.signal,
  });
  const body = (await res.json()) as { workflowId?: string };
  if (res.status !== 201 || !body.workflowId) throw new Error(`POST /v1/jobs answered ${res.status}: ${JSON.stringify(body)}`);
  onTiming?.(parseServerTiming(res.headers.get('server-timing')));
  return body.workflowId;
}

/** Baseline 1: the bare SDK call the API wraps. */
export async function startViaSdk(wl: Pick<Workload, 'client' | 'signal' | 'taskQueue' | 'tenantId'>, input: WebhookDeliverInput): Promise<string> {
  const jobId = newJobId();
  const handle = await wl.client.withAbortSignal(wl.signal, () =>
    wl.client.workflow.start(webhookDeliver.workflowType, {
      taskQueue: wl.taskQueue,
      workflowId: workflowIdFor(wl.tenantId, jobId),
      args: [{ tenantId: wl.tenantId, jobId, input }],
    }),
  );
  return handle.workflowId;
}

/** Baseline 2: the same request shape against a route that does nothing. */
export async function postPlain(url: string, input: WebhookDeliverInput, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: 'Bearer x', 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ type: webhookDeliver.type, input }),
    signal,
  });
  await res.json();
  if (res.status !== 201) throw new Error(`plain route answered ${res.status}`);
}

/**
 * Resolves once every workflow has closed; throws if any did not succeed.
 * Closed workflows answer `result()` at once, so awaiting after the last start
 * still ends within milliseconds of the last close.
 */
export async function awaitClosed(client: Client, workflowIds: string[], signal: AbortSignal, concurrency = 64): Promise<void> {
  await runPool(workflowIds.length, concurrency, signal, (i) =>
    untilAborted(client.workflow.getHandle(workflowIds[i]!).result(), signal),
  );
}
