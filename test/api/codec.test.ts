/**
 * Payload encryption end to end: the Temporal server holds only ciphertext
 * (inputs, results and failure messages), the API still shows jobs decoded,
 * and the Web UI codec endpoint decodes a tenant's payloads for that tenant's
 * key only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let receiver: Receiver;
let rawClient: Client;
let otherKey: string;
const secret = 'sk_live_DO-NOT-LEAK-4242';

beforeAll(async () => {
  stack = await startTestStack('codec');
  await stack.startWorkers();
  receiver = await startReceiver(() => ({ status: 422, body: `rejected ${secret}` }));
  // A client with no codec sees what the server stores.
  rawClient = new Client({ connection: await Connection.connect({ address: stack.temporal.address }) });
  const other = await createTenant(stack.db, `codec-other-${Date.now()}`);
  otherKey = (await createApiKey(stack.db, other.id, { name: 'other viewer', role: 'viewer' })).key;
});
afterAll(async () => {
  await receiver?.close();
  await rawClient?.connection.close();
  await stack?.close();
});

/**
 * Everything readable in the stored history: its JSON, plus every base64
 * string in it decoded (payload bytes are base64 in the JSON form, so a search
 * of the JSON alone would never find a plaintext secret inside a payload).
 */
async function historyText(workflowId: string): Promise<string> {
  const json = JSON.stringify(await rawClient.workflow.getHandle(workflowId).fetchHistory());
  const decoded = [...json.matchAll(/"([A-Za-z0-9+/]{8,}={0,2})"/g)].map((m) => Buffer.from(m[1]!, 'base64').toString('latin1'));
  return [json, ...decoded].join('\n');
}

type WirePayload = { metadata: Record<string, string>; data: string };

function codec(path: string, payloads: WirePayload[], headers: Record<string, string> = {}) {
  return fetch(`${stack.apiUrl}/codec${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers },
    body: JSON.stringify({ payloads }),
  });
}

describe('the server never holds job data in plaintext', () => {
  let workflowId: string;
  let jobId: string;

  beforeAll(async () => {
    const res = await stack.api('/v1/jobs', {
      method: 'POST',
      role: 'submitter',
      body: JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload: { apiKey: secret } } }),
    });
    ({ id: jobId, workflowId } = (await res.json()) as { id: string; workflowId: string });
    await waitForJob(stack, jobId);
  });

  it('the raw history has neither the secret input nor the failure message that quotes it', async () => {
    const stored = await historyText(workflowId);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain('DO-NOT-LEAK');
    expect(stored).toContain('binary/encrypted');
    // The check does see inside payloads: search attributes are never encrypted, and JobType's is found.
    expect(stored).toContain('"webhook.deliver"');
  });

  it('the API shows the job decoded', async () => {
    const job = (await (await stack.api(`/v1/jobs/${jobId}`, { role: 'viewer' })).json()) as { status: string; error: { type: string; message: string } };
    expect(job.status).toBe('failed');
    expect(job.error.type).toBe('WebhookRejected');
    expect(job.error.message).toContain(secret);
  });

  it('the codec endpoint decodes the tenant’s payloads for its own key, and for no other', async () => {
    const history = (await rawClient.workflow.getHandle(workflowId).fetchHistory()) as { events: { workflowExecutionStartedEventAttributes?: { input?: { payloads: { metadata: Record<string, Uint8Array>; data: Uint8Array }[] } } }[] };
    const started = history.events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads[0]!;
    const wire: WirePayload = {
      metadata: Object.fromEntries(Object.entries(started.metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(started.data).toString('base64'),
    };

    const own = await codec('/decode', [wire], { authorization: `Bearer ${stack.keys.viewer}` });
    expect(own.status).toBe(200);
    const decoded = ((await own.json()) as { payloads: WirePayload[] }).payloads[0]!;
    expect(Buffer.from(decoded.data, 'base64').toString()).toContain(secret);

    // The path form the Web UI uses.
    const viaPath = await codec(`/k/${stack.keys.viewer}/decode`, [wire]);
    expect(Buffer.from(((await viaPath.json()) as { payloads: WirePayload[] }).payloads[0]!.data, 'base64').toString()).toContain(secret);

    const foreign = await codec('/decode', [wire], { authorization: `Bearer ${otherKey}` });
    expect(foreign.status).toBe(200);
    const still = ((await foreign.json()) as { payloads: WirePayload[] }).payloads[0]!;
    expect(still).toEqual(wire);
    expect(Buffer.from(still.data, 'base64').toString('latin1')).not.toContain(secret);

    expect((await codec('/decode', [wire])).status).toBe(401);
    expect((await codec('/decode', [wire], { authorization: 'Bearer jp_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' })).status).toBe(401);
  });

  it('a codec key (what the Web UI holds) decodes its tenant’s payloads and can do nothing else: 403 on every /v1 route', async () => {
    const history = (await rawClient.workflow.getHandle(workflowId).fetchHistory()) as { events: { workflowExecutionStartedEventAttributes?: { input?: { payloads: { metadata: Record<string, Uint8Array>; data: Uint8Array }[] } } }[] };
    const started = history.events[0]!.workflowExecutionStartedEventAttributes!.input!.payloads[0]!;
    const wire: WirePayload = {
      metadata: Object.fromEntries(Object.entries(started.metadata).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
      data: Buffer.from(started.data).toString('base64'),
    };
    const viaPath = await codec(`/k/${stack.keys.codec}/decode`, [wire]);
    expect(viaPath.status).toBe(200);
    expect(Buffer.from(((await viaPath.json()) as { payloads: WirePayload[] }).payloads[0]!.data, 'base64').toString()).toContain(secret);

    // Every route of the OpenAPI document, every method: refused before the route looks at the request.
    const doc = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const jobId = (await (await stack.api('/v1/jobs?limit=1', { role: 'viewer' })).json()) as { items: { id: string }[] };
    let checked = 0;
    for (const [p, methods] of Object.entries(doc.paths)) {
      if (!p.startsWith('/v1/')) continue;
      const concrete = p.replace(/\{[^}]+\}/g, (name) => (name.includes('tenant') ? stack.tenantId : name.includes('name') ? 'status' : (jobId.items[0]?.id ?? 'job_x')));
      for (const method of Object.keys(methods)) {
        const res = await fetch(`${stack.apiUrl}${concrete}`, {
          method: method.toUpperCase(),
          headers: { authorization: `Bearer ${stack.keys.codec}`, 'content-type': 'application/json' },
          ...(method === 'get' || method === 'delete' ? {} : { body: '{}' }),
        });
        expect(res.status, `${method.toUpperCase()} ${concrete}`).toBe(403);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
    // The jobs and documents a viewer could read: never for the codec key.
    expect((await fetch(`${stack.apiUrl}/v1/jobs`, { headers: { authorization: `Bearer ${stack.keys.codec}` } })).status).toBe(403);
  });
});

describe('codec endpoint protocol', () => {
  it('encode then decode round-trips for the caller’s tenant', async () => {
    const plain: WirePayload = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"hello":"ui"}').toString('base64') };
    const enc = (await (await codec('/encode', [plain], { authorization: `Bearer ${stack.keys.viewer}` })).json()) as { payloads: WirePayload[] };
    expect(Buffer.from(enc.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    const dec = (await (await codec('/decode', enc.payloads, { authorization: `Bearer ${stack.keys.viewer}` })).json()) as { payloads: WirePayload[] };
    expect(dec.payloads[0]).toEqual(plain);
  });

  it('answers the Web UI’s CORS preflight for its origin only', async () => {
    const preflight = (origin: string) =>
      fetch(`${stack.apiUrl}/codec/decode`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
      });
    const ok = await preflight(new URL(stack.config.temporalUiUrl).origin);
    expect(ok.headers.get('access-control-allow-origin')).toBe(new URL(stack.config.temporalUiUrl).origin);
    expect(ok.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-namespace');
    const evil = await preflight('https://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('rejects bodies that are not codec requests', async () => {
    const res = await fetch(`${stack.apiUrl}/codec/decode`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.viewer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ payloads: [{ data: 'not base64 !!' }] }),
    });
    expect(res.status).toBe(400);
  });
});
