/** Helpers for batch.run tests: create a batch through the API, read its progress, wait for a state. */
import { expect, vi } from 'vitest';
import { batchProgress, type BatchProgress } from '../../contracts/index.ts';
import type { TestStack } from './stack.ts';

export async function createBatch(stack: TestStack, input: Record<string, unknown>): Promise<{ id: string; workflowId: string }> {
  const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'batch.run', input }) });
  const body = (await res.json()) as { id: string; workflowId: string };
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body;
}

export async function progressOf(stack: TestStack, jobId: string): Promise<BatchProgress> {
  const res = await stack.api(`/v1/jobs/${jobId}/queries/progress`, { role: 'viewer' });
  const body = (await res.json()) as { result: unknown };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return batchProgress.parse(body.result);
}

/** Polls the progress query until `done(progress)`; returns the last answer. */
export async function waitForProgress(
  stack: TestStack,
  jobId: string,
  done: (p: BatchProgress) => boolean,
  timeoutMs = 60_000,
): Promise<BatchProgress> {
  return await vi.waitFor(
    async () => {
      const last = await progressOf(stack, jobId);
      if (!done(last)) throw new Error(`batch ${jobId} progress did not match in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
      return last;
    },
    { timeout: timeoutMs, interval: 250 },
  );
}

export function message(stack: TestStack, jobId: string, kind: 'signals' | 'updates', name: string, body: unknown = {}, role: 'submitter' | 'viewer' = 'submitter') {
  return stack.api(`/v1/jobs/${jobId}/${kind}/${name}`, { method: 'POST', role, body: JSON.stringify(body) });
}
