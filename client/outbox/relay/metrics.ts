/**
 * Prometheus metrics of a relay process, in the style of the API's
 * (api/http/metrics.ts): a registry of its own, counters this process
 * increments, and gauges read from the outbox table when scraped (one read
 * shared by the gauges, at most once a second). The gauges describe the
 * table, so every relay reports the same values: take `max` across them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OutboxStats } from './store.ts';

export interface RelayMetrics {
  registry: Registry;
  /** By `outcome`: `created` (201) or `existing` (200: the Idempotency-Key had made the job already). */
  relayed: Counter<'outcome'>;
  /** Rows refused for good, by HTTP `status`. */
  failed: Counter<'status'>;
  /** Sends to try again, by `reason`: an HTTP status, `network` or `timeout`. */
  retried: Counter<'reason'>;
  sendDuration: Histogram;
}

export function createRelayMetrics(readStats: () => Promise<OutboxStats>): RelayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jobplane_outbox_relay_' });
  const relayed = new Counter({ name: 'jobplane_outbox_relayed_total', help: 'Outbox rows turned into jobs, by outcome: created (201) or existing (200, a re-send)', labelNames: ['outcome'], registers: [registry] });
  const failed = new Counter({ name: 'jobplane_outbox_failed_total', help: 'Outbox rows the API refused for good (not retried), by HTTP status', labelNames: ['status'], registers: [registry] });
  const retried = new Counter({ name: 'jobplane_outbox_retried_total', help: 'Sends to be tried again, by reason (HTTP status, network, timeout)', labelNames: ['reason'], registers: [registry] });
  const sendDuration = new Histogram({
    name: 'jobplane_outbox_send_duration_seconds',
    help: 'Duration of one POST /v1/jobs by the relay',
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });

  let cached: { at: number; stats: Promise<OutboxStats | undefined> } | undefined;
  const read = () => {
    if (!cached || Date.now() - cached.at > 1000) cached = { at: Date.now(), stats: readStats().catch(() => undefined) };
    return cached.stats;
  };
  const fromTable = (name: string, help: string, value: (s: OutboxStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const stats = await read();
        if (stats) this.set(value(stats));
      },
    });
  fromTable('jobplane_outbox_lag_seconds', 'Age of the oldest outbox row not yet relayed (0 when none): how far behind the relays are', (s) => s.lagSeconds);
  fromTable('jobplane_outbox_pending_rows', 'Outbox rows not yet relayed nor failed', (s) => s.pending);
  fromTable('jobplane_outbox_failed_rows', 'Outbox rows refused for good, waiting for a person (last_error says why)', (s) => s.failed);
  new Gauge({
    name: 'jobplane_outbox_database_up',
    help: 'Whether the outbox table answered this process’s last read (1) or not (0)',
    registers: [registry],
    async collect() {
      this.set((await read()) ? 1 : 0);
    },
  });
  return { registry, relayed, failed, retried, sendDuration };
}
