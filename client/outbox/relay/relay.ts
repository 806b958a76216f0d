/**
 * The relay loop: claim a batch of due rows (a short lease, no transaction
 * kept open), send each to `POST /v1/jobs` with its uuid as
 * `Idempotency-Key`, record what came of it, and wait for a NOTIFY or the
 * poll interval when nothing is left. Claims do not wait for the sends of the
 * claims before them (bounded in-flight), so a row's latency is its own round
 * trips, not the batch's. Any number of relays may run: SKIP
 * LOCKED and the lease keep them off each other's rows, and the key makes
 * a row sent twice (a relay that died after the API answered) one job.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { JobplaneClient } from '../../jobplane-client.ts';
import type { CreateJobRequest, JobTypeName } from '../../types.ts';
import type { RelayConfig } from './config.ts';
import type { RelayMetrics } from './metrics.ts';
import { classifySendError, type SendOutcome } from './outcome.ts';
import type { ClaimedRow, OutboxStore } from './store.ts';

export type RelaySettings = Pick<RelayConfig, 'batchSize' | 'pollIntervalMs' | 'leaseMs' | 'retryBaseMs' | 'retryMaxMs' | 'keepRelayedHours'>;

export interface RelayDeps {
  store: OutboxStore;
  /** Made with `createAttempts: 1`: the relay schedules retries itself, in the table, instead of sleeping on a lease. */
  client: Pick<JobplaneClient, 'createJob'>;
  settings: RelaySettings;
  metrics: RelayMetrics;
  log: Logger;
}

export interface Relay {
  /** Runs until {@link stop}; resolves once the rows in flight are settled. */
  run(): Promise<void>;
  /** Claims again now (a NOTIFY arrived). A wake during a cycle is kept for the next wait. */
  wake(): void;
  /** Stops claiming, lets the sends in flight finish and record their outcome, then `run()` resolves. */
  stop(): void;
  /** False after a database error, true again after the next statement that succeeds: `/readyz`. */
  readonly healthy: boolean;
}

/** Relayed rows deleted per statement, and how often the clean-up runs. */
const purgeBatch = 1000;
const purgeEveryMs = 60_000;

/** The body sent for a row: built the same way every time, so a re-send matches the request hash the API stored. */
export function jobRequestOf(row: ClaimedRow): CreateJobRequest<JobTypeName> {
  return {
    type: row.type,
    input: row.input,
    ...(row.labels.length > 0 ? { labels: row.labels } : {}),
    ...(row.priority !== null ? { priority: row.priority } : {}),
    ...(row.startAt ? { startAt: row.startAt.toISOString() } : {}),
  } as CreateJobRequest<JobTypeName>;
}

export function createRelay(deps: RelayDeps): Relay {
  const { store, client, settings, metrics, log } = deps;
  const policy = { baseMs: settings.retryBaseMs, maxMs: settings.retryMaxMs };
  let stopping = false;
  let healthy = true;
  let woken = false;
  let wakeWaiter: (() => void) | undefined;
  let lastPurge = 0;

  const wake = () => {
    woken = true;
    wakeWaiter?.();
  };

  /** Waits `ms`, or less if woken; returns at once if a wake came since the last wait. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || stopping) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeWaiter = undefined;
        resolve();
      }
      wakeWaiter = done;
    });

  async function send(row: ClaimedRow): Promise<SendOutcome> {
    const end = metrics.sendDuration.startTimer();
    try {
      const { job, created } = await client.createJob(jobRequestOf(row), { idempotencyKey: row.idempotencyKey });
      return { kind: 'relayed', jobId: job.id, created };
    } catch (err) {
      return classifySendError(err, row.attempts, policy);
    } finally {
      end();
    }
  }

  async function relayRow(row: ClaimedRow, leaseToken: string): Promise<void> {
    const outcome = await send(row);
    const ids = { outboxId: row.id, idempotencyKey: row.idempotencyKey, type: row.type, attempts: row.attempts };
    try {
      if (outcome.kind === 'relayed') {
        await store.markRelayed(row.id, outcome.jobId);
        metrics.relayed.inc({ outcome: outcome.created ? 'created' : 'existing' });
        log.debug({ ...ids, jobId: outcome.jobId, created: outcome.created }, 'outbox row relayed');
      } else if (outcome.kind === 'retry') {
        await store.scheduleRetry(row.id, leaseToken, outcome.delayMs, outcome.error);
        metrics.retried.inc({ reason: outcome.reason });
        const level = outcome.reason === '401' || outcome.reason === '403' ? 'error' : 'warn';
        log[level]({ ...ids, reason: outcome.reason, retryInMs: outcome.delayMs, error: outcome.error }, 'outbox row send failed, will retry');
      } else {
        await store.markFailed(row.id, leaseToken, outcome.error);
        metrics.failed.inc({ status: outcome.reason });
        log.error({ ...ids, status: outcome.reason, error: outcome.error }, 'outbox row refused by the API: marked failed, not retried');
      }
      healthy = true;
    } catch (err) {
      // The lease runs out and the row is sent again; its Idempotency-Key makes that the same job.
      healthy = false;
      log.error({ ...ids, err, outcome: outcome.kind }, 'could not record the outcome of an outbox row; it will be sent again after its lease');
    }
  }

  async function purgeOldRows(): Promise<void> {
    if (settings.keepRelayedHours === 0 || Date.now() - lastPurge < purgeEveryMs) return;
    lastPurge = Date.now();
    const deleted = await store.purgeRelayed(settings.keepRelayedHours, purgeBatch);
    if (deleted > 0) log.info({ deleted, olderThanHours: settings.keepRelayedHours }, 'deleted old relayed outbox rows');
  }

  /** One claim and its sends; the number of rows claimed. */
  // Sends are not awaited by the cycle that claimed them: a row committed while
  // others are being sent is claimed at once (its NOTIFY wakes the loop), not
  // after the whole batch's round trips. At most `maxInFlight` rows are out at a time.
  const maxInFlight = settings.batchSize * 4;
  const inFlight = new Set<Promise<void>>();
  let saturated = false;

  function dispatch(row: ClaimedRow, leaseToken: string): void {
    const sending: Promise<void> = relayRow(row, leaseToken).finally(() => {
      inFlight.delete(sending);
      // Room again after the loop stopped claiming for want of it: claim now rather than after the poll interval.
      if (saturated) {
        saturated = false;
        wake();
      }
    });
    inFlight.add(sending);
  }

  async function cycle(): Promise<number> {
    woken = false;
    const room = maxInFlight - inFlight.size;
    if (room <= 0) {
      saturated = true;
      return 0;
    }
    const leaseToken = randomUUID();
    const rows = await store.claim(Math.min(settings.batchSize, room), settings.leaseMs, leaseToken);
    healthy = true;
    for (const row of rows) dispatch(row, leaseToken);
    return rows.length;
  }

  async function run(): Promise<void> {
    try {
      await loop();
    } finally {
      // Stopping: the rows already claimed are sent and recorded before run() resolves.
      await Promise.all(inFlight);
    }
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      let wait = settings.pollIntervalMs;
      try {
        const claimed = await cycle();
        // A full batch: more rows are probably due.
        if (claimed === settings.batchSize) continue;
        // Saturated: a finished send wakes the loop; until then there is nothing to claim for.
        if (!saturated) {
          await purgeOldRows();
          const due = await store.msUntilNextDue();
          if (due !== undefined) wait = Math.min(wait, Math.max(due, 10));
        }
      } catch (err) {
        healthy = false;
        log.error({ err }, 'outbox relay cycle failed; trying again after the poll interval');
      }
      await pause(wait);
    }
  }

  return {
    run,
    wake,
    stop() {
      stopping = true;
      wakeWaiter?.();
    },
    get healthy() {
      return healthy;
    },
  };
}
