/**
 * Slow and stalled clients hold nothing shared: many connections that send
 * their headers and part of a body and then stop — on every route that takes
 * a body (each one the OpenAPI document lists, the streamed uploads
 * included) — while another tenant keeps creating and reading jobs, and
 * `/readyz` stays 200. The server's timeouts then close the stalled sockets.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

let stack: TestStack;
let otherKey: string;

beforeAll(async () => {
  stack = await startTestStack('slow-clients', {
    env: { JOBPLANE_HTTP_REQUEST_TIMEOUT_MS: '6000', JOBPLANE_HTTP_IDLE_TIMEOUT_MS: '4000', JOBPLANE_HTTP_HEADERS_TIMEOUT_MS: '3000' },
  });
  await stack.startWorkers();
  const other = await createTenant(stack.db, 'slow-clients-other');
  otherKey = (await createApiKey(stack.db, other.id, { name: 'other', role: 'admin' })).key;
});
afterAll(async () => {
  await stack?.close();
});

interface Stalled {
  label?: string;
  socket: net.Socket;
  closedAt: Promise<number>;
}

/** A request that announces a large body, sends a little of it and stops. */
function stall(method: string, pathname: string, contentType: string, partialBody: string): Stalled {
  const { port } = new URL(stack.apiUrl);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  socket.on('data', () => {});
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  socket.write(
    `${method} ${pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${stack.keys.admin}\r\n` +
      `Content-Type: ${contentType}\r\nContent-Length: 1000000\r\n\r\n${partialBody}`,
  );
  return { socket, closedAt };
}

/** Headers only, never finished. */
function stallHeaders(): Stalled {
  const { port } = new URL(stack.apiUrl);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  // Read what the server answers (a 408), or the close is never seen.
  socket.on('data', () => {});
  const closedAt = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
  socket.write(`POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${stack.keys.admin}\r\n`);
  return { socket, closedAt };
}

async function bodyRoutes(): Promise<{ method: string; path: string; contentType: string }[]> {
  const doc = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>>;
  };
  const routes: { method: string; path: string; contentType: string }[] = [];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const types = Object.keys(op.requestBody?.content ?? {});
      if (types.length === 0) continue;
      // Path parameters filled with ids of the right shape that exist nowhere: the body is what stalls.
      const concrete = p.replace(/\{[^}]+\}/g, (name) => (name.includes('tenant') ? stack.tenantId : name.includes('name') ? 'approve' : 'job_00000000000000000000000000'));
      routes.push({ method: method.toUpperCase(), path: concrete, contentType: types[0]! });
    }
  }
  return routes;
}

it('stalled bodies on every route that takes one (and stalled headers) leave another tenant’s requests working, then time out', async () => {
  const routes = await bodyRoutes();
  expect(routes.map((r) => r.path)).toEqual(expect.arrayContaining(['/v1/jobs', '/v1/documents', '/v1/batch-inputs']));
  const stalled: Stalled[] = [];
  const startedAt = Date.now();
  // Several per route, and more on the streamed uploads than the database pool has connections.
  for (const r of routes) {
    const copies = r.path === '/v1/batch-inputs' || r.path === '/v1/documents' ? 8 : 2;
    for (let i = 0; i < copies; i++) {
      const partial =
        r.path === '/v1/documents'
          ? '--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nhello'
          : r.path.startsWith('/v1/batch-inputs')
            ? '{"url":"http://127.0.0.1:9/x","payload":{}}\n{"url":"http://127.0.0.1:9/x",'
            : '{"type":"noop","input":{';
      const type = r.path === '/v1/documents' ? 'multipart/form-data; boundary=b' : r.path.startsWith('/v1/batch-inputs') ? 'application/x-ndjson' : r.contentType;
      stalled.push({ ...stall(r.method, r.path.startsWith('/v1/batch-inputs') ? '/v1/batch-inputs?jobType=webhook.deliver' : r.path, type, partial), label: `${r.method} ${r.path}` });
    }
  }
  for (let i = 0; i < 5; i++) stalled.push({ ...stallHeaders(), label: 'headers only' });
  // Let the server take them all in (and, were a body read inside a transaction, exhaust the pool).
  await new Promise((r) => setTimeout(r, 500));

  const auth = { authorization: `Bearer ${otherKey}`, 'content-type': 'application/json' };
  const timed = async (fn: () => Promise<Response>) => {
    const t0 = Date.now();
    const res = await fn();
    return { status: res.status, ms: Date.now() - t0, body: (await res.json()) as { id?: string; status?: string } };
  };
  for (let i = 0; i < 5; i++) {
    const created = await timed(() => fetch(`${stack.apiUrl}/v1/jobs`, { method: 'POST', headers: auth, body: JSON.stringify({ type: 'noop', input: {} }) }));
    expect(created.status).toBe(201);
    expect(created.ms).toBeLessThan(2000);
    const read = await timed(() => fetch(`${stack.apiUrl}/v1/jobs/${created.body.id}`, { headers: auth }));
    expect(read.status).toBe(200);
    const listed = await timed(() => fetch(`${stack.apiUrl}/v1/jobs?limit=5`, { headers: auth }));
    expect(listed.status).toBe(200);
    const ready = await timed(() => fetch(`${stack.apiUrl}/readyz`));
    expect(ready.status).toBe(200);
    expect(Math.max(read.ms, listed.ms, ready.ms)).toBeLessThan(2000);
  }
  // And the jobs run: the other tenant's newest one finishes.
  // The list reads statuses from visibility, which a loaded machine may answer 503 for a moment: read it until it answers.
  let newest: { items?: { id: string }[] } = {};
  await expect
    .poll(async () => {
      const res = await fetch(`${stack.apiUrl}/v1/jobs?limit=1`, { headers: auth });
      newest = (await res.json()) as typeof newest;
      return res.status;
    }, { timeout: 10_000, interval: 200 })
    .toBe(200);
  const [last] = newest.items!;
  await expect
    .poll(async () => ((await (await fetch(`${stack.apiUrl}/v1/jobs/${last!.id}`, { headers: auth })).json()) as { status: string }).status, { timeout: 10_000, interval: 100 })
    .toBe('succeeded');

  // The server closes every stalled connection once its timeouts pass (headers 3 s, idle 4 s, whole request 6 s here).
  const closed = await Promise.all(stalled.map((s) => Promise.race([s.closedAt, new Promise<number>((r) => setTimeout(() => r(Number.POSITIVE_INFINITY), 15_000))])));
  const latest = Math.max(...closed) - startedAt;
  if (process.env.DEBUG_SLOW) console.log(stalled.map((s, i) => `${s.label}: ${closed[i]! - startedAt}`).join('\n'));
  expect(latest, 'every stalled connection closed by the server').toBeLessThan(12_000);
}, 60_000);
