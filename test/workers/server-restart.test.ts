/**
 * Stop and restart the dev server (same SQLite file, same port) while jobs are
 * queued and no worker runs: after the restart every job completes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../runtime/host-port.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, startTestTemporal, waitForJob, type TestStack, type TestTemporal } from '../helpers/stack.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'jobplane-restart-'));
const dbFile = path.join(dir, 'temporal.db');
let port: number;
let temporal: TestTemporal;
let stack: TestStack;
let receiver: Receiver;

beforeAll(async () => {
  port = await freePort();
  temporal = await startTestTemporal({ port, dbFile });
  stack = await startTestStack('restart', { temporal });
  receiver = await startReceiver(() => ({ status: 200 }));
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
  await temporal?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('queued jobs survive a dev server restart and all complete', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await stack.api('/v1/jobs', {
      method: 'POST',
      role: 'submitter',
      body: JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload: { i } } }),
    });
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { id: string }).id);
  }
  for (const id of ids) expect((await waitForJob(stack, id, ['queued'])).status).toBe('queued');

  await temporal.stop();
  temporal = await startTestTemporal({ port, dbFile });

  await stack.startWorkers();
  for (const id of ids) {
    expect(await waitForJob(stack, id, undefined, 60_000)).toMatchObject({ status: 'succeeded', result: { attempts: 1 } });
  }
  expect(receiver.requests).toHaveLength(5);
});
