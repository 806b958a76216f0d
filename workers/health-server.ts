/**
 * Liveness and readiness of a worker process for probes and for `npm start`:
 * `/healthz` answers while the process runs; `/readyz` only while every
 * worker is polling (not before start-up finished, not while draining) and
 * every part of Temporal answers. A worker is not ready while history or
 * matching is down — it can take no task — and nothing routes traffic to
 * worker pods, so failing readiness costs nothing but makes the outage
 * visible (and holds a rolling deploy until the cluster is back). The body
 * names the part that does not answer.
 */
import { createServer, type Server } from 'node:http';
import type { Worker } from '@temporalio/worker';
import { parseHostPort } from '../runtime/host-port.ts';
import type { TemporalHealthProbe } from '../runtime/temporal-health.ts';


export function startHealthServer(address: string, workers: () => Worker[], temporalHealth?: () => TemporalHealthProbe | undefined): Promise<Server> {
  const server = createServer(async (req, res) => {
    const send = (status: number, body: object) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/healthz') return send(200, { status: 'ok' });
    if (req.url === '/readyz') {
      const polling = workers().length > 0 && workers().every((w) => w.getState() === 'RUNNING');
      const states = Object.fromEntries(workers().map((w) => [w.options.taskQueue, w.getState()]));
      const probe = temporalHealth?.();
      const health = probe ? await probe.check() : undefined;
      const temporal = health && { frontend: health.frontend, history: health.history, matching: health.matching };
      const reachable = !temporal || Object.values(temporal).every((part) => part.ok);
      const ready = polling && reachable;
      return send(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', workers: states, ...(temporal ? { temporal } : {}) });
    }
    send(404, { status: 'not found' });
  });
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
