/**
 * Liveness and readiness of a worker process for probes and for `npm start`:
 * `/healthz` answers while the process runs; `/readyz` only while every
 * worker is polling (not before start-up finished, not while draining).
 */
import { createServer, type Server } from 'node:http';
import type { Worker } from '@temporalio/worker';

export function parseHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(address.slice(i + 1)) };
}

export function startHealthServer(address: string, workers: () => Worker[]): Promise<Server> {
  const server = createServer((req, res) => {
    const ready = workers().length > 0 && workers().every((w) => w.getState() === 'RUNNING');
    const send = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/healthz') return send(200, { status: 'ok' });
    if (req.url === '/readyz') {
      const states = Object.fromEntries(workers().map((w) => [w.options.taskQueue, w.getState()]));
      return send(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', workers: states });
    }
    send(404, { status: 'not found' });
  });
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
