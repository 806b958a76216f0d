/**
 * The transactional outbox end to end: a "service" database of its own
 * (`outbox_<random>` on the test Postgres server, dropped after) holding the
 * outbox table, the relay (in-process through `startOutboxRelay`, or as a
 * real child process where it must die or drain), and a real stack (API on
 * a socket, Temporal dev server, workers). Outcomes are read where a user
 * would read them: the outbox rows, Jobplane's jobs table and `GET /v1/jobs`,
 * the relay's /metrics.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { and, eq, inArray } from 'drizzle-orm';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { JobplaneClient, enqueueJob, ensureOutboxTable, type OutboxJobRequest } from '../../client/index.ts';
import { loadRelayConfig } from '../../client/outbox/relay/config.ts';
import { createRelayLogger } from '../../client/outbox/relay/logger.ts';
import { startOutboxRelay, type RunningRelay } from '../../client/outbox/relay/start.ts';
import { jobs } from '../../db/schema/index.ts';
import { createScratchDatabase } from '../../scripts/lib/postgres.ts';
import { repoRoot, startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { startApiProxy, type ApiProxy } from './api-proxy.ts';

let stack: TestStack;
let service: { url: string; drop(): Promise<void> };
let sql: postgres.Sql;
let pool: pg.Pool;
const relays: RunningRelay[] = [];
const proxies: ApiProxy[] = [];
const children = new Set<ChildProcess>();
const log = createRelayLogger(process.env.JOBPLANE_TEST_RELAY_LOG ?? 'silent');

beforeAll(async () => {
  // Creates well past the default rate and per-tenant concurrency: these tests race relays, not the limiter.
  stack = await startTestStack('outbox', { env: { JOBPLANE_CREATE_RATE_PER_SECOND: '1000', JOBPLANE_CREATE_BURST: '1000', JOBPLANE_TENANT_MAX_IN_FLIGHT: '64' } });
  await stack.startWorkers();
  service = await createScratchDatabase(inject('databaseUrl'), `outbox_${randomBytes(4).toString('hex')}`);
  sql = postgres(service.url, { max: 4, onnotice: () => {} });
  pool = new pg.Pool({ connectionString: service.url, max: 2 });
  await sql`create table orders (id uuid primary key, total integer not null)`;
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(relays.map((r) => r.stop().catch(() => {})));
  await Promise.all(proxies.map((p) => p.close()));
  await pool?.end();
  await sql?.end();
  await stack?.close();
  await service?.drop();
});

/** The relay's environment for `table`: the service database, the stack's API, quick polling. */
function relayEnv(table: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    OUTBOX_DATABASE_URL: service.url,
    JOBPLANE_URL: stack.apiUrl,
    JOBPLANE_API_KEY: stack.keys.submitter,
    OUTBOX_TABLE: table,
    OUTBOX_RELAY_POLL_INTERVAL_MS: '200',
    OUTBOX_RELAY_METRICS_ADDRESS: '127.0.0.1:0',
    OUTBOX_RELAY_STATUS_LOG_INTERVAL_MS: '0',
    OUTBOX_RELAY_LOG_LEVEL: 'warn',
    ...overrides,
  };
}

async function startRelay(table: string, overrides: Record<string, string> = {}): Promise<RunningRelay> {
  const relay = await startOutboxRelay(loadRelayConfig(relayEnv(table, overrides)), log);
  relays.push(relay);
  return relay;
}

async function proxy(...args: Parameters<typeof startApiProxy>): Promise<ApiProxy> {
  const p = await startApiProxy(...args);
  proxies.push(p);
  return p;
}

/** `client/outbox/relay/main.ts` as a real process; resolves once it logged that it started. */
async function spawnRelay(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'client/outbox/relay/main.ts')], {
    cwd: repoRoot,
    env: { ...process.env, ...env, OUTBOX_RELAY_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await vi.waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`relay process exited with ${child.exitCode}:\n${out}`);
      if (!out.includes('outbox relay started')) throw new Error(`relay process did not start:\n${out}`);
    },
    { timeout: 20_000, interval: 50 },
  );
  return { child, output: () => out };
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

interface OutboxRow {
  id: string;
  idempotency_key: string;
  job_type: string;
  attempts: number;
  relayed_at: Date | null;
  job_id: string | null;
  failed_at: Date | null;
  last_error: string | null;
  locked_until: Date | null;
  created_at: Date;
}

const rowsOf = async (table: string) =>
  (await sql.unsafe(`select id::text, idempotency_key::text, job_type, attempts, relayed_at, job_id, failed_at, last_error, locked_until, created_at from ${table} as o order by o.id`)) as unknown as OutboxRow[];

/** Waits until every row of `table` is relayed or failed; returns the rows. */
async function settled(table: string, timeout = 30_000): Promise<OutboxRow[]> {
  return await vi.waitFor(
    async () => {
      const rows = await rowsOf(table);
      const open = rows.filter((r) => !r.relayed_at && !r.failed_at);
      if (open.length > 0) throw new Error(`${open.length} of ${rows.length} rows of ${table} still pending: ${JSON.stringify(open.slice(0, 3))}`);
      return rows;
    },
    { timeout, interval: 100 },
  );
}

/** Jobplane's record of the jobs created with these Idempotency-Keys (the stack's tenant). */
const jobsWithKeys = (keys: string[]) =>
  stack.db.select({ id: jobs.id, idempotencyKey: jobs.idempotencyKey, type: jobs.type }).from(jobs).where(and(eq(jobs.tenantId, stack.tenantId), inArray(jobs.idempotencyKey, keys)));

const noop = (test: string, i: number): OutboxJobRequest<'noop'> => ({ type: 'noop', input: { tag: `${test}-${i}` }, labels: [`test=${test}`] });

/** `n` noop requests committed in ONE transaction; their Idempotency-Keys. */
async function enqueueMany(table: string, test: string, n: number): Promise<string[]> {
  return await sql.begin(async (tx) => {
    const keys: string[] = [];
    for (let i = 0; i < n; i++) keys.push((await enqueueJob(tx, noop(test, i), { table })).idempotencyKey);
    return keys;
  });
}

async function counter(relay: RunningRelay, name: 'relayed' | 'failed' | 'retried', labels: Record<string, string>): Promise<number> {
  const { values } = await relay.metrics[name].get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

/** The value of an unlabelled series on a relay's /metrics. */
async function scrape(relay: RunningRelay, series: string): Promise<number> {
  const text = await (await fetch(`${relay.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`${series} not on /metrics`);
  return Number(line.split(' ')[1]);
}

/** A port nothing listens on: connections are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('outbox relay', () => {
  it('every committed row becomes exactly one job, woken by NOTIFY, from postgres.js and node-postgres transactions', async () => {
    const table = 'commit_outbox';
    await ensureOutboxTable(sql, { table });
    // A poll interval longer than the test: only NOTIFY can wake this relay in time.
    await startRelay(table, { OUTBOX_RELAY_POLL_INTERVAL_MS: '60000' });

    const enqueued: string[] = [];
    for (let i = 0; i < 10; i++) {
      const { idempotencyKey } = await sql.begin(async (tx) => {
        await tx`insert into orders ${tx({ id: globalThis.crypto.randomUUID(), total: i })}`;
        return await enqueueJob(tx, noop('commit', i), { table });
      });
      enqueued.push(idempotencyKey);
    }
    const client = await pool.connect();
    try {
      for (let i = 10; i < 15; i++) {
        await client.query('BEGIN');
        await client.query('insert into orders (id, total) values ($1, $2)', [globalThis.crypto.randomUUID(), i]);
        enqueued.push((await enqueueJob(client, noop('commit', i), { table })).idempotencyKey);
        await client.query('COMMIT');
      }
    } finally {
      client.release();
    }

    const rows = await settled(table, 15_000);
    expect(rows).toHaveLength(15);
    expect(rows.every((r) => r.relayed_at && r.job_id && r.attempts === 1 && !r.failed_at)).toBe(true);
    expect(rows.map((r) => r.idempotency_key)).toEqual(enqueued);
    const created = await jobsWithKeys(enqueued);
    expect(created).toHaveLength(15);
    expect(new Map(created.map((j) => [j.idempotencyKey, j.id]))).toEqual(new Map(rows.map((r) => [r.idempotency_key, r.job_id])));

    // Through the API as a user lists them: the same 15 jobs, once each, with the row's type and labels.
    const api = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: stack.keys.viewer });
    const listed = [];
    for await (const job of api.iterateJobs({ label: 'test=commit', limit: 200 })) listed.push(job);
    expect(listed.map((j) => j.id).sort()).toEqual(rows.map((r) => r.job_id).sort());
    expect(listed.every((j) => j.type === 'noop')).toBe(true);
    // And they run.
    for (const row of rows.slice(0, 2)) expect(await waitForJob(stack, row.job_id!, ['succeeded'])).toMatchObject({ status: 'succeeded' });
  });

  it('a rolled-back transaction’s row becomes no job (postgres.js and node-postgres)', async () => {
    const table = 'rollback_outbox';
    await ensureOutboxTable(sql, { table });
    const relay = await startRelay(table);
    const orderId = globalThis.crypto.randomUUID();
    const refused = new Error('the order failed validation');
    await expect(
      sql.begin(async (tx) => {
        await tx`insert into orders ${tx({ id: orderId, total: 1 })}`;
        await enqueueJob(tx, noop('rollback', 0), { table });
        throw refused;
      }),
    ).rejects.toBe(refused);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await enqueueJob(client, noop('rollback', 1), { table });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    // A committed row after them: once it is relayed, the relay has been past where the others would be.
    const [marker] = await enqueueMany(table, 'rollback', 1);

    const rows = await settled(table);
    expect(rows.map((r) => r.idempotency_key)).toEqual([marker]);
    expect(await sql`select id from orders where id = ${orderId}`).toHaveLength(0);
    const api = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: stack.keys.viewer });
    expect((await api.listJobs({ label: 'test=rollback' })).items.map((j) => j.id)).toEqual([rows[0]!.job_id]);
    expect(await counter(relay, 'relayed', {})).toBe(1);
  });

  it('two relays racing over 120 rows create each job exactly once, each row sent once', async () => {
    const table = 'race_outbox';
    await ensureOutboxTable(sql, { table });
    const keys = await enqueueMany(table, 'race', 120);
    const [a, b] = await Promise.all([startRelay(table), startRelay(table)]);

    const rows = await settled(table, 40_000);
    expect(rows.every((r) => r.relayed_at && r.job_id)).toBe(true);
    expect(new Set(rows.map((r) => r.job_id)).size).toBe(120);
    const created = await jobsWithKeys(keys);
    expect(created).toHaveLength(120);
    expect(new Set(created.map((j) => j.id))).toEqual(new Set(rows.map((r) => r.job_id)));
    // SKIP LOCKED and the lease kept them apart: every send made a job (no 200 re-send), and both took part.
    const [createdByA, createdByB] = [await counter(a!, 'relayed', { outcome: 'created' }), await counter(b!, 'relayed', { outcome: 'created' })];
    expect(createdByA + createdByB).toBe(120);
    expect(await counter(a!, 'relayed', { outcome: 'existing' })).toBe(0);
    expect(await counter(b!, 'relayed', { outcome: 'existing' })).toBe(0);
    expect(createdByA).toBeGreaterThan(0);
    expect(createdByB).toBeGreaterThan(0);
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
  });

  it('kill -9 of a relay process holding leased rows: a second relay finishes with exactly one job per row', async () => {
    const table = 'crash_outbox';
    await ensureOutboxTable(sql, { table });
    const keys = await enqueueMany(table, 'crash', 60);
    // The API makes each job the relay sends, and the relay never hears back: it dies with the rows leased
    // (as many as it may have out at once: 4 batches of 5).
    const hold = await proxy(stack.apiUrl, () => ({ kind: 'forward-and-hold' }));
    const { child } = await spawnRelay(relayEnv(table, { JOBPLANE_URL: hold.url, OUTBOX_RELAY_BATCH_SIZE: '5', OUTBOX_RELAY_REQUEST_TIMEOUT_MS: '4000', OUTBOX_RELAY_LEASE_MS: '9000' }));
    await vi.waitFor(() => expect(hold.requests.filter((r) => r.upstreamStatus === 201)).toHaveLength(20), { timeout: 15_000, interval: 20 });
    const leased = await sql.unsafe(`select idempotency_key::text as key from ${table} where locked_until > now() and relayed_at is null`);
    expect(leased).toHaveLength(20);
    child.kill('SIGKILL');
    await exited(child);
    expect((await rowsOf(table)).filter((r) => r.relayed_at)).toHaveLength(0);
    const jobOfDeadRelay = new Map(hold.requests.map((r) => [r.idempotencyKey, (JSON.parse(r.upstreamBody!) as { id: string }).id]));

    const second = await startRelay(table, { OUTBOX_RELAY_BATCH_SIZE: '10' });
    const rows = await settled(table, 30_000);
    expect(rows.every((r) => r.relayed_at && r.job_id)).toBe(true);
    const created = await jobsWithKeys(keys);
    expect(created).toHaveLength(60);
    expect(new Set(created.map((j) => j.id)).size).toBe(60);
    // The dead relay's 20 rows were sent again once their lease ran out, and named the jobs the first sends made.
    expect(await counter(second, 'relayed', { outcome: 'existing' })).toBe(20);
    expect(await counter(second, 'relayed', { outcome: 'created' })).toBe(40);
    for (const row of rows.filter((r) => jobOfDeadRelay.has(r.idempotency_key))) {
      expect(row.job_id).toBe(jobOfDeadRelay.get(row.idempotency_key));
      expect(row.attempts).toBe(2);
    }
    const api = new JobplaneClient({ baseUrl: stack.apiUrl, apiKey: stack.keys.viewer });
    const listed = [];
    for await (const job of api.iterateJobs({ label: 'test=crash', limit: 200 })) listed.push(job.id);
    expect(listed.sort()).toEqual(rows.map((r) => r.job_id).sort());
  });

  it('a row committed while a slow send is out is sent at once, not after it', async () => {
    const table = 'pipelined_outbox';
    await ensureOutboxTable(sql, { table });
    // The first send takes 4 s at the API's door; every later one goes straight through.
    let sends = 0;
    const slowFirst = await proxy(stack.apiUrl, () => (sends++ === 0 ? { kind: 'forward', delayMs: 4000 } : { kind: 'forward' }));
    await startRelay(table, { JOBPLANE_URL: slowFirst.url });
    const [slowKey] = await enqueueMany(table, 'pipelined-slow', 1);
    await vi.waitFor(() => expect(slowFirst.requests).toHaveLength(1), { timeout: 10_000, interval: 20 });
    const committedAt = Date.now();
    const [quickKey] = await enqueueMany(table, 'pipelined-quick', 1);
    const quick = await vi.waitFor(
      async () => {
        const row = (await rowsOf(table)).find((r) => r.idempotency_key === quickKey);
        expect(row?.relayed_at).toBeTruthy();
        return row!;
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(Date.now() - committedAt).toBeLessThan(2500);
    expect((await rowsOf(table)).find((r) => r.idempotency_key === slowKey)?.relayed_at).toBeNull();
    expect(quick.job_id).toBeTruthy();
    expect((await settled(table)).every((r) => r.relayed_at)).toBe(true);
  });

  it('SIGTERM: a relay process finishes the sends in flight, records them and exits 0', async () => {
    const table = 'sigterm_outbox';
    await ensureOutboxTable(sql, { table });
    await enqueueMany(table, 'sigterm', 5);
    const slow = await proxy(stack.apiUrl, () => ({ kind: 'forward', delayMs: 1000 }));
    const { child, output } = await spawnRelay(relayEnv(table, { JOBPLANE_URL: slow.url }));
    await vi.waitFor(() => expect(slow.requests).toHaveLength(5), { timeout: 10_000, interval: 20 });
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    expect(output()).toContain('outbox relay stopped');
    const rows = await rowsOf(table);
    expect(rows.every((r) => r.relayed_at && r.job_id)).toBe(true);
  });

  it('a row the API refuses for good ends failed with the reason, is not retried, and the relay goes on', async () => {
    const table = 'refused_outbox';
    await ensureOutboxTable(sql, { table });
    const relay = await startRelay(table);
    const bad = [
      { type: 'no.such.job', input: {} },
      { type: 'document.ingest', input: { documentId: 'doc_x' } },
      { type: 'noop', input: { sleepMs: -1 } },
    ] as unknown as OutboxJobRequest[];
    const badKeys = await sql.begin(async (tx) => Promise.all(bad.map(async (r) => (await enqueueJob(tx, r, { table })).idempotencyKey)));
    const [good] = await enqueueMany(table, 'refused', 1);

    const rows = await settled(table);
    const byKey = new Map(rows.map((r) => [r.idempotency_key, r]));
    const failed = badKeys.map((k) => byKey.get(k)!);
    expect(failed.every((r) => r.failed_at && !r.relayed_at && !r.job_id && r.attempts === 1)).toBe(true);
    expect(failed[0]!.last_error).toMatch(/^400 validation-error: .*unknown job type "no\.such\.job"/);
    expect(failed[1]!.last_error).toMatch(/^400 job-type-internal: /);
    expect(failed[2]!.last_error).toMatch(/^400 validation-error: .*input\.sleepMs/);
    expect(byKey.get(good!)!.relayed_at).toBeTruthy();
    expect(await jobsWithKeys(badKeys)).toHaveLength(0);
    expect(await counter(relay, 'failed', { status: '400' })).toBe(3);
    expect(await scrape(relay, 'jobplane_outbox_failed_rows')).toBe(3);

    // Several poll intervals later, still one attempt each: a refusal is final.
    await sleep(1000);
    expect((await rowsOf(table)).filter((r) => badKeys.includes(r.idempotency_key)).map((r) => r.attempts)).toEqual([1, 1, 1]);
    expect(await counter(relay, 'retried', {})).toBe(0);
  });

  it('429 and 503 are retried after their Retry-After, then relayed', async () => {
    const table = 'retry_outbox';
    await ensureOutboxTable(sql, { table });
    const problem = (status: number, slug: string) => ({ type: `https://jobplane.dev/problems/${slug}`, status, title: slug });
    const flaky = await proxy(stack.apiUrl, (_req, n) =>
      n === 1 ? { kind: 'answer', status: 503, headers: { 'retry-after': '1' }, body: problem(503, 'temporal-unavailable') }
      : n === 2 ? { kind: 'answer', status: 429, headers: { 'retry-after': '1' }, body: problem(429, 'rate-limited') }
      : { kind: 'forward' },
    );
    // A backoff far longer than the test: only Retry-After can bring the rows back in time.
    const relay = await startRelay(table, { JOBPLANE_URL: flaky.url, OUTBOX_RELAY_RETRY_BASE_MS: '60000', OUTBOX_RELAY_RETRY_MAX_MS: '60000' });
    const keys = await enqueueMany(table, 'retry', 2);

    const rows = await settled(table, 15_000);
    expect(rows.every((r) => r.relayed_at && r.job_id && r.attempts === 3)).toBe(true);
    expect(rows[0]!.last_error).toMatch(/^429 rate-limited/);
    expect(await jobsWithKeys(keys)).toHaveLength(2);
    expect(await counter(relay, 'retried', { reason: '503' })).toBe(2);
    expect(await counter(relay, 'retried', { reason: '429' })).toBe(2);
    expect(await counter(relay, 'relayed', { outcome: 'created' })).toBe(2);
  });

  it('refused connections are retried, never failed; the lag gauge shows the oldest unrelayed row, 0 once relayed', async () => {
    const table = 'lag_outbox';
    await ensureOutboxTable(sql, { table });
    await enqueueMany(table, 'lag', 3);
    await sql.unsafe(`update ${table} set created_at = now() - interval '120 seconds'`);
    const unreachable = await startRelay(table, { JOBPLANE_URL: `http://127.0.0.1:${await closedPort()}`, OUTBOX_RELAY_RETRY_BASE_MS: '100', OUTBOX_RELAY_RETRY_MAX_MS: '200' });

    await vi.waitFor(async () => expect((await rowsOf(table)).every((r) => r.attempts >= 2)).toBe(true), { timeout: 10_000, interval: 100 });
    const waiting = await rowsOf(table);
    expect(waiting.every((r) => !r.failed_at && !r.relayed_at && /^network: .*ECONNREFUSED/.test(r.last_error ?? ''))).toBe(true);
    expect(await scrape(unreachable, 'jobplane_outbox_lag_seconds')).toBeGreaterThanOrEqual(120);
    expect(await scrape(unreachable, 'jobplane_outbox_pending_rows')).toBe(3);
    expect(await scrape(unreachable, 'jobplane_outbox_database_up')).toBe(1);
    expect(await counter(unreachable, 'retried', { reason: 'network' })).toBeGreaterThanOrEqual(6);
    expect(await (await fetch(`${unreachable.httpUrl}/readyz`)).json()).toEqual({ status: 'ready' });
    await unreachable.stop();

    const relay = await startRelay(table);
    await settled(table);
    // The gauges read the table at most once a second.
    await vi.waitFor(async () => expect(await scrape(relay, 'jobplane_outbox_lag_seconds')).toBe(0), { timeout: 5000, interval: 200 });
    expect(await scrape(relay, 'jobplane_outbox_pending_rows')).toBe(0);
    expect(await counter(relay, 'relayed', { outcome: 'created' })).toBe(3);
  });
});
