/**
 * W8 — commit-to-start latency of the transactional outbox. A product
 * service commits a business row and wants its job started. Two paths, paced
 * at the same rate and interleaved op by op:
 *
 * - **outbox**: the row and `enqueueJob()` in one transaction; the relay
 *   (client/outbox/relay, in this process, woken by NOTIFY) creates the job;
 * - **direct** (the dual write the outbox replaces): commit the row, then
 *   `POST /v1/jobs` right after.
 *
 * The figure is the time from the service's COMMIT returning to the
 * workflow's start as Temporal recorded it (`describe().startTime`, the
 * server's clock on this same machine; millisecond resolution). The ratio
 * outbox ÷ direct is what atomicity costs in latency.
 */
import postgres from 'postgres';
import { webhookDeliver } from '../contracts/webhook-deliver.ts';
import { workflowIdFor } from '../contracts/workflow-ids.ts';
import { enqueueJob, ensureOutboxTable } from '../client/outbox/index.ts';
import { loadRelayConfig } from '../client/outbox/relay/config.ts';
import { createRelayLogger } from '../client/outbox/relay/logger.ts';
import { startOutboxRelay } from '../client/outbox/relay/start.ts';
import { awaitClosed, createViaApi, deliveryInput } from './jobs.ts';
import { createBenchDatabase } from './scratch-db.ts';
import { startWorkload, type BenchBase } from './stack.ts';
import { round, runPool, summarize, type Summary } from './util.ts';

export interface W8Settings {
  /** Jobs per path. */
  n: number;
  /** Commits per second, both paths together (each op is one commit). */
  ratePerSecond: number;
}

export interface W8Result {
  settings: W8Settings;
  /** Commit returned → workflow started (ms). */
  outbox: Summary;
  direct: Summary;
  /** Commit returned → the relay marked the row relayed (ms, Postgres clock): the relay's lag as a user sees it. */
  outboxRelayed: Summary;
  ratio: { p50: number; p99: number };
}

const relayedWithinMs = 120_000;

export async function runW8(base: BenchBase, s: W8Settings, signal: AbortSignal, log: (line: string) => void): Promise<W8Result> {
  const wl = await startWorkload(base, 'w8');
  // The service's own database, on the same server as Jobplane's (same durability, see the run's config).
  const service = await createBenchDatabase(base.databaseUrl);
  base.cleanup.add('w8 service database', () => service.drop());
  const sql = postgres(service.url, { max: 8, onnotice: () => {} });
  base.cleanup.add('w8 service pool', () => sql.end({ timeout: 5 }));
  await ensureOutboxTable(sql);
  await sql`create table orders (id bigint generated always as identity primary key, placed_at timestamptz not null default now())`;

  const relay = await startOutboxRelay(
    loadRelayConfig({
      OUTBOX_DATABASE_URL: service.url,
      JOBPLANE_URL: wl.apiUrl,
      JOBPLANE_API_KEY: wl.apiKey,
      OUTBOX_RELAY_METRICS_ADDRESS: '',
      OUTBOX_RELAY_STATUS_LOG_INTERVAL_MS: '0',
    }),
    createRelayLogger('warn'),
  );
  base.cleanup.add('w8 relay', () => relay.stop());

  const input = deliveryInput(base.receiver.urlFor('w8'));
  const outboxCommits = new Map<string, number>();
  const direct: { committedAt: number; workflowId: string }[] = [];
  const viaOutbox = async () => {
    let rowId = '';
    await sql.begin(async (tx) => {
      await tx`insert into orders default values`;
      rowId = (await enqueueJob(tx, { type: webhookDeliver.type, input })).id;
    });
    outboxCommits.set(rowId, Date.now());
  };
  const viaDirect = async () => {
    await sql.begin((tx) => tx`insert into orders default values`);
    const committedAt = Date.now();
    direct.push({ committedAt, workflowId: await createViaApi(wl, input) });
  };

  log(`W8: ${s.n} jobs via the outbox and ${s.n} committed then created directly, ${s.ratePerSecond} commits/s`);
  // Paced, not closed-loop: each op starts on its tick whatever the ones before are doing, as commits of a busy service do.
  const pending: Promise<void>[] = [];
  const startedAt = performance.now();
  for (let i = 0; i < 2 * s.n; i++) {
    signal.throwIfAborted();
    const wait = startedAt + (i * 1000) / s.ratePerSecond - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(i % 2 === 0 ? viaOutbox() : viaDirect());
  }
  await Promise.all(pending);

  const rows = await waitUntilRelayed(sql, s.n, signal);
  const startOf = async (workflowId: string) => (await wl.client.workflow.getHandle(workflowId).describe()).startTime.getTime();
  const outboxIds = rows.map((r) => workflowIdFor(wl.tenantId, r.job_id));
  const outboxStarts = await runPool(rows.length, 16, signal, (i) => startOf(outboxIds[i]!));
  const directStarts = await runPool(direct.length, 16, signal, (i) => startOf(direct[i]!.workflowId));
  await awaitClosed(wl.client, [...outboxIds, ...direct.map((d) => d.workflowId)], signal);

  const outbox = summarize(rows.map((r, i) => outboxStarts[i]! - outboxCommits.get(r.id)!));
  const directSummary = summarize(direct.map((d, i) => directStarts[i]! - d.committedAt));
  return {
    settings: s,
    outbox,
    direct: directSummary,
    outboxRelayed: summarize(rows.map((r) => r.relayed_at.getTime() - outboxCommits.get(r.id)!)),
    ratio: { p50: round(outbox.p50 / directSummary.p50), p99: round(outbox.p99 / directSummary.p99) },
  };
}

async function waitUntilRelayed(sql: postgres.Sql, n: number, signal: AbortSignal): Promise<{ id: string; job_id: string; relayed_at: Date }[]> {
  const deadline = Date.now() + relayedWithinMs;
  for (;;) {
    signal.throwIfAborted();
    const rows = await sql<{ id: string; job_id: string; relayed_at: Date }[]>`
      select id::text, job_id, relayed_at from jobplane_outbox where relayed_at is not null order by id`;
    if (rows.length >= n) return rows;
    const [failed] = await sql<{ count: number }[]>`select count(*)::int from jobplane_outbox where failed_at is not null`;
    if (failed!.count > 0) throw new Error(`W8: ${failed!.count} outbox rows were refused for good`);
    if (Date.now() > deadline) throw new Error(`W8: only ${rows.length} of ${n} outbox rows relayed within ${relayedWithinMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
