/**
 * The relay's one listener (OUTBOX_RELAY_METRICS_ADDRESS): `/metrics` for
 * Prometheus, `/healthz` while the process runs, `/readyz` while its last
 * database statement succeeded (503 otherwise, naming why).
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** `host:port` → its parts; `[::1]:9467` too. */
export function parseHostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

export function startRelayHttpServer(address: string, registry: Registry, ready: () => boolean): Promise<Server> {
  const server = createServer((req, res) => {
    const json = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/healthz') return json(200, { status: 'ok' });
    if (req.url === '/readyz') return ready() ? json(200, { status: 'ready' }) : json(503, { status: 'unavailable', reason: 'the outbox database did not answer the last statement' });
    if (req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
      return;
    }
    json(404, { status: 'not found' });
  });
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
