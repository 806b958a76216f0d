/** Real sockets for the benchmark: the API (or a bare Hono app) on node-server, and a webhook receiver. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

export interface HttpServer {
  url: string;
  close(): Promise<void>;
}

/** Serves a fetch handler exactly the way `api/main.ts` does, on an ephemeral port of 127.0.0.1. */
export async function serveFetch(fetch: (req: Request) => Response | Promise<Response>): Promise<HttpServer> {
  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => closeServer(server) };
}

/** Baseline 2: the cheapest possible route, so the reader sees what HTTP + Hono alone cost. */
export function plainApp() {
  return new Hono().post('/x', (c) => c.json({ ok: true }, 201));
}

export interface Receiver {
  /**
   * URL of the receiver under `path`; each workload phase uses its own path so
   * counts stay apart. With `delayMs` the receiver answers that much later.
   */
  urlFor(path: string, delayMs?: number): string;
  /** Requests seen under `path`. */
  count(path: string): number;
  close(): Promise<void>;
}

/**
 * Answers 200 at once, so the measured time is Jobplane's and Temporal's, not
 * the receiver's — unless the URL asks for `?delayMs=`, which W3 uses so that
 * activity slots, not only CPU, limit a worker.
 */
export async function startReceiver(): Promise<Receiver> {
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    // Drain the body before answering so the sender never sees a reset connection.
    req.resume();
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      const path = url.pathname.slice(1);
      counts.set(path, (counts.get(path) ?? 0) + 1);
      const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      const delayMs = Number(url.searchParams.get('delayMs') ?? 0);
      if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    urlFor: (path, delayMs) => `${base}/${path}${delayMs ? `?delayMs=${delayMs}` : ''}`,
    count: (path) => counts.get(path) ?? 0,
    close: () => closeServer(server),
  };
}

/** Drops keep-alive connections too; `close()` alone would wait for clients to hang up. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}
