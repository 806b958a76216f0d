/**
 * One status line every OUTBOX_RELAY_STATUS_LOG_INTERVAL_MS: the lag and
 * backlog read from the table, and this process's counts since the last
 * line, for deployments that read logs rather than scrape /metrics.
 */
import type { Logger } from 'pino';
import type { RelayMetrics } from './metrics.ts';
import type { OutboxStore } from './store.ts';

async function counterTotal(counter: RelayMetrics['relayed'] | RelayMetrics['failed'] | RelayMetrics['retried']): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}

/** Starts the timer; returns a function that stops it. */
export function startStatusLog(store: OutboxStore, metrics: RelayMetrics, log: Logger, intervalMs: number): () => void {
  if (intervalMs === 0) return () => {};
  let last = { relayed: 0, failed: 0, retried: 0 };
  const timer = setInterval(async () => {
    try {
      const stats = await store.stats();
      const now = { relayed: await counterTotal(metrics.relayed), failed: await counterTotal(metrics.failed), retried: await counterTotal(metrics.retried) };
      log.info(
        { lagSeconds: Math.round(stats.lagSeconds * 10) / 10, pendingRows: stats.pending, failedRows: stats.failed, relayed: now.relayed - last.relayed, failed: now.failed - last.failed, retried: now.retried - last.retried },
        'outbox relay status',
      );
      last = now;
    } catch (err) {
      log.warn({ err }, 'outbox relay status: could not read the outbox table');
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
