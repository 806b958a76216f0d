/**
 * Prometheus metrics of the API process at `/metrics`: request rate, latency
 * and errors by route and status; jobs created by type and tenant; task-queue
 * backlog gauges read when scraped. Labels use the route pattern
 * (`/v1/jobs/:id`), never the raw path, so ids cannot explode cardinality.
 */
import type { Client } from '@temporalio/client';
import { createMiddleware } from 'hono/factory';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { catalogTaskQueues } from '../../contracts/index.ts';
import type { Config } from '../../runtime/config.ts';
import { recommendedReplicas, taskQueueStats, type QueueTypeStats } from '../../runtime/task-queue-stats.ts';
import { taskQueueName } from '../../runtime/temporal.ts';
import { temporalParts, type TemporalHealthProbe } from '../../runtime/temporal-health.ts';
import { routePattern } from './route-pattern.ts';
import { visibilityCallTally } from '../limits/visibility.ts';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  jobsCreated: Counter<'type' | 'tenant'>;
  refused: Counter<'tenant' | 'status'>;
}

export function createApiMetrics(deps: { client: Client; config: Config; temporalHealth: TemporalHealthProbe }): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jobplane_api_' });
  const requests = new Counter({ name: 'jobplane_http_requests_total', help: 'HTTP requests by route pattern and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const duration = new Histogram({
    name: 'jobplane_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern',
    labelNames: ['method', 'route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const jobsCreated = new Counter({ name: 'jobplane_jobs_created_total', help: 'Jobs accepted (201) by type and tenant', labelNames: ['type', 'tenant'], registers: [registry] });
  const refused = new Counter({
    name: 'jobplane_requests_refused_total',
    help: 'Changes refused for load (429) or an unavailable dependency (503), by tenant: not written to the audit log one by one',
    labelNames: ['tenant', 'status'],
    registers: [registry],
  });

  const policy = { targetQueueSize: deps.config.scaleTargetQueueSize, minReplicas: deps.config.scaleMinReplicas, maxReplicas: deps.config.scaleMaxReplicas };
  // The three gauges are collected concurrently on each scrape: they share one read of Temporal.
  let cached: { at: number; stats: Promise<{ name: string; stats: QueueTypeStats[] }[]> } | undefined;
  const readStats = () => {
    if (!cached || Date.now() - cached.at > 1000) {
      cached = {
        at: Date.now(),
        stats: Promise.all(
          catalogTaskQueues.map(async (queue) => {
            const name = taskQueueName(deps.config, queue);
            return { name, stats: await taskQueueStats(deps.client, deps.config.temporalNamespace, name).catch(() => []) };
          }),
        ),
      };
    }
    return cached.stats;
  };
  const perType = (name: string, help: string, value: (s: QueueTypeStats) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['task_queue', 'type'],
      registers: [registry],
      async collect() {
        for (const q of await readStats()) for (const s of q.stats) this.set({ task_queue: q.name, type: s.type }, value(s));
      },
    });
  perType('jobplane_task_queue_backlog', 'Approximate backlog per task queue and type', (s) => s.backlogCount);
  perType('jobplane_task_queue_backlog_age_seconds', 'Age of the oldest backlog task', (s) => s.backlogAgeSeconds);
  new Gauge({
    name: 'jobplane_task_queue_recommended_replicas',
    help: 'Worker replicas KEDA’s temporal scaler formula asks for',
    labelNames: ['task_queue'],
    registers: [registry],
    async collect() {
      for (const q of await readStats()) if (q.stats.length > 0) this.set({ task_queue: q.name }, recommendedReplicas(q.stats, policy));
    },
  });
  new Gauge({
    name: 'jobplane_temporal_part_up',
    help: 'Whether each part of Temporal answers this process (1) or not (0): frontend, history, matching',
    labelNames: ['part'],
    registers: [registry],
    async collect() {
      const health = await deps.temporalHealth.check();
      for (const part of temporalParts) this.set({ part }, health[part].ok ? 1 : 0);
    },
  });
  new Gauge({
    name: 'jobplane_temporal_visibility_calls',
    help: 'Temporal list/count calls of this process since it started, by purpose and outcome (sent, budget-spent: refused by the API budget, throttled: refused or timed out at Temporal)',
    labelNames: ['call', 'outcome'],
    registers: [registry],
    collect() {
      for (const [key, n] of visibilityCallTally) {
        const [call, outcome] = key.split('\0') as [string, string];
        this.set({ call, outcome }, n);
      }
    },
  });
  return { registry, requests, duration, jobsCreated, refused };
}

/** Counts and times every request by its route pattern. */
export function httpMetrics(metrics: ApiMetrics) {
  return createMiddleware(async (c, next) => {
    const end = metrics.duration.startTimer();
    try {
      await next();
    } finally {
      const route = routePattern(c);
      end({ method: c.req.method, route });
      metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    }
  });
}
