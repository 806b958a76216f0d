/**
 * Structured logs end to end: a real worker process and a real API process
 * (both at info level) run one `webhook.deliver` job whose payload carries a
 * secret marker. Every line either process writes must be JSON; the API logs
 * the create request with its tenant and 201; the activity logs the delivery
 * with job, workflow and run ids; and no line anywhere contains the payload's
 * secret, the API key or the signing secret.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { freePort } from '../../runtime/host-port.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { repoRoot, startTestStack, testCodecKeys, testSigningSecret, type TestStack } from '../helpers/stack.ts';

interface Captured {
  child: ChildProcess;
  stdout: string;
  stderr: string;
}

let stack: TestStack;
let receiver: Receiver;
const procs: Captured[] = [];
const marker = `sk_live_SECRET-${randomBytes(8).toString('hex')}`;

/** Spawns a repo entry point at info level, capturing all of its output for the whole test. */
function spawnCaptured(entry: string, env: Record<string, string>): Captured {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, entry)], {
    cwd: repoRoot,
    env: { ...process.env, ...stack.env, JOBPLANE_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const captured: Captured = { child, stdout: '', stderr: '' };
  child.stdout!.on('data', (d: Buffer) => (captured.stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (captured.stderr += d.toString()));
  procs.push(captured);
  return captured;
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 60_000, out?: Captured) {
  const failed = () => new Error(`${what} did not happen${out ? `:\n${out.stdout}\n${out.stderr}` : ''}`);
  let exited = false;
  await vi.waitFor(
    async () => {
      if (await ok()) return;
      if (out && out.child.exitCode !== null) {
        exited = true;
        return;
      }
      throw failed();
    },
    { timeout: timeoutMs, interval: 100 },
  );
  if (exited) throw failed();
}

let worker: Captured;
let api: Captured;
let apiUrl: string;

beforeAll(async () => {
  stack = await startTestStack('logs');
  receiver = await startReceiver(() => ({ status: 200 }));
  worker = spawnCaptured('workers/main.ts', {});
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  api = spawnCaptured('api/main.ts', { PORT: String(port) });
  await until('worker polling', () => worker.stdout.includes('workers polling'), 60_000, worker);
  await until('API listening', () => fetch(`${apiUrl}/healthz`).then((r) => r.ok, () => false), 60_000, api);
});
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await receiver?.close();
  await stack?.close();
});

function parseLines(text: string): { raw: string; json: Record<string, unknown> | undefined }[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((raw) => {
      try {
        const json = JSON.parse(raw) as unknown;
        return { raw, json: json && typeof json === 'object' ? (json as Record<string, unknown>) : undefined };
      } catch {
        return { raw, json: undefined };
      }
    });
}

it('every line is JSON, carries the ids, and never a secret or a payload', async () => {
  const headers = { authorization: `Bearer ${stack.keys.submitter}`, 'content-type': 'application/json' };
  const created = await fetch(`${apiUrl}/v1/jobs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload: { note: marker, card: { token: marker } } } }),
  });
  expect(created.status).toBe(201);
  const job = (await created.json()) as { id: string; workflowId: string };

  let status = '';
  await until('job success', async () => {
    const res = await fetch(`${apiUrl}/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${stack.keys.submitter}` } });
    status = String(((await res.json()) as { status: string }).status);
    return status === 'succeeded' || status === 'failed';
  });
  expect(status).toBe('succeeded');
  // The payload really carried the marker to the receiver (so its absence from the logs means something).
  expect(receiver.requests.some((r) => r.body.includes(marker))).toBe(true);
  // Let the activity's and the last request's lines reach the pipes.
  await until('worker logged the delivery', () => worker.stdout.includes('webhook attempt finished'), 10_000);
  await new Promise((r) => setTimeout(r, 300));

  const apiLines = parseLines(api.stdout);
  const workerLines = parseLines(worker.stdout);
  const all = [...apiLines, ...workerLines, ...parseLines(api.stderr), ...parseLines(worker.stderr)];

  // 1. Every line any process wrote is one JSON object.
  expect(all.filter((l) => !l.json).map((l) => l.raw)).toEqual([]);
  expect(apiLines.length).toBeGreaterThan(0);
  expect(workerLines.length).toBeGreaterThan(0);

  // 2. The API logged the create request: route pattern, 201, tenant, key id, request id, and the job it created.
  const createLine = apiLines.find((l) => l.json!.route === '/v1/jobs' && l.json!.method === 'POST')?.json;
  expect(createLine).toMatchObject({ status: 201, tenantId: stack.tenantId, jobId: job.id, msg: 'request' });
  expect(typeof createLine!.requestId).toBe('string');
  expect(typeof createLine!.keyId).toBe('string');
  expect(typeof createLine!.durationMs).toBe('number');
  // Reads of the job name it by its route pattern and carry its id.
  expect(apiLines.some((l) => l.json!.route === '/v1/jobs/:id' && l.json!.jobId === job.id && l.json!.status === 200)).toBe(true);
  // No request line carries headers or bodies.
  for (const l of apiLines.filter((l) => l.json!.msg === 'request')) {
    for (const key of ['headers', 'authorization', 'body', 'req', 'res', 'input', 'payload']) expect(l.json).not.toHaveProperty(key);
  }

  // 3. The activity's outcome line (activity context logger, through pino) carries job, workflow and run ids.
  const activityLine = workerLines.find((l) => l.json!.msg === 'webhook attempt finished' && l.json!.jobId === job.id)?.json;
  expect(activityLine).toMatchObject({
    sdkComponent: 'activity',
    jobId: job.id,
    tenantId: stack.tenantId,
    workflowId: job.workflowId,
    outcome: 'succeeded',
    statusCode: 200,
    attempt: 1,
  });
  expect(typeof activityLine!.runId).toBe('string');
  expect(typeof activityLine!.durationMs).toBe('number');
  // SDK logs are pino lines too (the worker's own state changes, at least).
  expect(workerLines.some((l) => l.json!.sdkComponent === 'worker')).toBe(true);

  // 4. No secret anywhere: the payload's marker, any API key, the signing secret, codec keys, signatures.
  const everything = procs.map((p) => p.stdout + p.stderr).join('\n');
  for (const secret of [marker, ...Object.values(stack.keys), testSigningSecret, testCodecKeys.split(':')[1]!]) {
    expect(everything).not.toContain(secret);
  }
  expect(everything).not.toMatch(/v1=[0-9a-f]{64}/);
  expect(everything.toLowerCase()).not.toContain('bearer ');
});
