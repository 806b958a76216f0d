/**
 * A scriptable HTTP proxy in front of the real API, for the relay tests:
 * per request it forwards (and answers with the API's answer), forwards and
 * then never answers (the API made the job, the relay never hears of it),
 * or answers by itself (a 429 or 503 with Retry-After) without forwarding.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ProxyAction =
  /** Forward and answer with the API's answer, `delayMs` after it came. */
  | { kind: 'forward'; delayMs?: number }
  /** Forward, record the API's answer, and leave the client waiting forever. */
  | { kind: 'forward-and-hold' }
  | { kind: 'answer'; status: number; headers?: Record<string, string>; body?: unknown };

export interface ProxiedRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
  body: string;
  /** The API's status and body, when forwarded and answered. */
  upstreamStatus?: number;
  upstreamBody?: string;
}

export interface ApiProxy {
  url: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

/** `decide(req, n)`: n is the 1-based count of requests seen with the same Idempotency-Key. */
export async function startApiProxy(apiUrl: string, decide: (req: ProxiedRequest, n: number) => ProxyAction): Promise<ApiProxy> {
  const requests: ProxiedRequest[] = [];
  const sockets = new Set<Socket>();
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  const server = createServer(async (req, res) => {
    const body = await read(req);
    const key = req.headers['idempotency-key'] as string | undefined;
    const seen: ProxiedRequest = { method: req.method!, path: req.url!, idempotencyKey: key, body };
    requests.push(seen);
    const n = requests.filter((r) => key !== undefined && r.idempotencyKey === key).length;
    const action = decide(seen, n);
    if (action.kind === 'answer') {
      res.writeHead(action.status, { 'content-type': 'application/problem+json', ...action.headers }).end(JSON.stringify(action.body ?? {}));
      return;
    }
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => ['authorization', 'content-type', 'idempotency-key', 'accept'].includes(k))) as Record<string, string>;
    const upstream = await fetch(`${apiUrl}${req.url}`, { method: req.method, headers, ...(body ? { body } : {}) });
    const text = await upstream.text();
    seen.upstreamStatus = upstream.status;
    seen.upstreamBody = text;
    if (action.kind === 'forward-and-hold') return;
    if (action.delayMs) await new Promise((resolve) => setTimeout(resolve, action.delayMs));
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
