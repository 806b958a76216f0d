/**
 * The outbox table and `enqueueJob()` against real Postgres (a "service"
 * database of its own, no Temporal): the DDL is idempotent and safe to run
 * concurrently, the committed file matches it, a row exists exactly when
 * the caller's transaction commits (postgres.js and node-postgres), bad
 * requests and connections outside a transaction are refused before any
 * row is written, and NOTIFY reaches listeners on commit only.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  OutboxTableNameError,
  OutboxTransactionRequiredError,
  OutboxValidationError,
  enqueueJob,
  ensureOutboxTable,
  outboxTableSql,
  type OutboxJobRequest,
} from '../../client/index.ts';
import { createScratchDatabase } from '../../scripts/lib/postgres.ts';

let service: { url: string; drop(): Promise<void> };
let sql: postgres.Sql;
let pool: pg.Pool;

beforeAll(async () => {
  service = await createScratchDatabase(inject('databaseUrl'), `outbox_unit_${randomBytes(4).toString('hex')}`);
  sql = postgres(service.url, { max: 6, onnotice: () => {} });
  pool = new pg.Pool({ connectionString: service.url, max: 3 });
});
afterAll(async () => {
  await pool?.end();
  await sql?.end();
  await service?.drop();
});

const noop: OutboxJobRequest<'noop'> = { type: 'noop', input: { tag: 'unit' } };
const count = async (table = 'jobplane_outbox') => Number((await sql.unsafe(`select count(*) as n from ${table}`))[0]!.n);

describe('the outbox table', () => {
  it('client/outbox/outbox.sql is the generated DDL (regenerate: npx tsx client/outbox/print.ts sql > client/outbox/outbox.sql)', () => {
    const file = readFileSync(path.resolve(import.meta.dirname, '../../client/outbox/outbox.sql'), 'utf8');
    expect(file).toBe(outboxTableSql());
  });

  it('ensureOutboxTable is idempotent and safe from several connections and drivers at once', async () => {
    await Promise.all([ensureOutboxTable(sql), ensureOutboxTable(sql), ensureOutboxTable(pool), ensureOutboxTable(pool)]);
    await ensureOutboxTable(sql);
    const triggers = await sql`select tgname from pg_trigger where tgrelid = 'jobplane_outbox'::regclass and not tgisinternal`;
    expect(triggers.map((t) => t.tgname)).toEqual(['jobplane_outbox_notify']);
    const indexes = await sql`select indexname from pg_indexes where tablename = 'jobplane_outbox' order by indexname`;
    expect(indexes.map((i) => i.indexname)).toEqual([
      'jobplane_outbox_failed_idx',
      'jobplane_outbox_idempotency_key_key',
      'jobplane_outbox_pending_idx',
      'jobplane_outbox_pkey',
      'jobplane_outbox_relayed_idx',
    ]);
  });

  it('takes a schema-qualified name, and refuses names that are not plain identifiers', async () => {
    await sql`create schema if not exists orders`;
    await ensureOutboxTable(sql, { table: 'orders.jobplane_outbox' });
    await sql.begin((tx) => enqueueJob(tx, noop, { table: 'orders.jobplane_outbox' }));
    expect(await count('orders.jobplane_outbox')).toBe(1);
    for (const table of ['Outbox', 'a.b.c', 'x"; drop table orders; --', '', 'a'.repeat(49)]) {
      await expect(ensureOutboxTable(sql, { table }), table).rejects.toThrow(OutboxTableNameError);
      await expect(sql.begin((tx) => enqueueJob(tx, noop, { table })), table).rejects.toThrow(OutboxTableNameError);
    }
  });
});

describe('enqueueJob', () => {
  beforeAll(() => ensureOutboxTable(sql));

  it('postgres.js: the row exists when the transaction commits, not when it rolls back', async () => {
    const before = await count();
    const row = await sql.begin((tx) => enqueueJob(tx, { type: 'noop', input: { tag: 'a' }, labels: ['team=orders'], priority: 2 }));
    expect(row.id).toMatch(/^\d+$/);
    expect(row.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    const [stored] = await sql`select job_type, input, labels, priority, start_at, attempts, relayed_at, failed_at from jobplane_outbox where id = ${row.id}`;
    expect(stored).toEqual({ job_type: 'noop', input: { tag: 'a' }, labels: ['team=orders'], priority: 2, start_at: null, attempts: 0, relayed_at: null, failed_at: null });

    await expect(
      sql.begin(async (tx) => {
        await enqueueJob(tx, noop);
        throw new Error('business rule failed');
      }),
    ).rejects.toThrow('business rule failed');
    expect(await count()).toBe(before + 1);
  });

  it('node-postgres: inside BEGIN/COMMIT and BEGIN/ROLLBACK on a pool client', async () => {
    const before = await count();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const row = await enqueueJob(client, noop);
      await client.query('COMMIT');
      await client.query('BEGIN');
      await enqueueJob(client, noop);
      await client.query('ROLLBACK');
      expect((await sql`select id::text from jobplane_outbox where idempotency_key = ${row.idempotencyKey}`)[0]?.id).toBe(row.id);
    } finally {
      client.release();
    }
    expect(await count()).toBe(before + 1);
  });

  it('refuses a connection outside a transaction, for both drivers, writing nothing', async () => {
    const before = await count();
    await expect(enqueueJob(sql, noop)).rejects.toThrow(OutboxTransactionRequiredError);
    await expect(enqueueJob(pool, noop)).rejects.toThrow(OutboxTransactionRequiredError);
    const client = await pool.connect();
    const reserved = await sql.reserve();
    try {
      await expect(enqueueJob(client, noop)).rejects.toThrow(OutboxTransactionRequiredError);
      await expect(enqueueJob(reserved, noop)).rejects.toThrow(OutboxTransactionRequiredError);
      // A reserved postgres.js connection inside a BEGIN of its own is a transaction: the probe sees it.
      await reserved`begin`;
      await enqueueJob(reserved, noop);
      await reserved`rollback`;
    } finally {
      client.release();
      reserved.release();
    }
    expect(await count()).toBe(before);
    // Without the check, the row commits on its own: the caller said so.
    await enqueueJob(sql, noop, { requireTransaction: false });
    expect(await count()).toBe(before + 1);
  });

  it('an invalid request is refused before any statement: nothing stored, the transaction goes on', async () => {
    const before = await count();
    const bad = [
      [{ type: '', input: {} }, 'type'],
      [{ type: 'noop' }, 'input'],
      [{ type: 'noop', input: { tag: 'nul\u0000' } }, 'input.tag'],
      [{ type: 'noop', input: { tag: '\ud800' } }, 'input.tag'],
      [{ type: 'noop', input: { n: Number.NaN } }, 'input.n'],
      [{ type: 'noop', input: { at: new Map() } }, 'input.at'],
      [{ type: 'noop', input: {}, labels: ['has space'] }, 'labels.0'],
      [{ type: 'noop', input: {}, priority: 9 }, 'priority'],
      [{ type: 'noop', input: {}, delay: '5 minutes' }, 'delay'],
      [{ type: 'noop', input: {}, delay: '5m', startAt: new Date() }, 'delay'],
      [{ type: 'noop', input: {}, tpye: 'typo' }, ''],
    ] as const;
    await sql.begin(async (tx) => {
      for (const [request, field] of bad) {
        const err = await enqueueJob(tx, request as never).catch((e: unknown) => e);
        expect(err, JSON.stringify(request)).toBeInstanceOf(OutboxValidationError);
        expect((err as OutboxValidationError).issues.map((i) => i.path), JSON.stringify(request)).toContain(field);
      }
      await enqueueJob(tx, noop);
    });
    expect(await count()).toBe(before + 1);
  });

  it('a delay counts from the enqueuing transaction: start_at = its start + delay', async () => {
    const { id, now } = await sql.begin(async (tx) => {
      const [started] = await tx`select now() as now`;
      return { ...(await enqueueJob(tx, { ...noop, delay: '90s' })), now: started!.now as Date };
    });
    const [row] = await sql`select start_at from jobplane_outbox where id = ${id}`;
    expect((row!.start_at as Date).getTime() - now.getTime()).toBe(90_000);
    const at = new Date(Date.now() + 3_600_000);
    const later = await sql.begin((tx) => enqueueJob(tx, { ...noop, startAt: at.toISOString() }));
    expect((await sql`select start_at from jobplane_outbox where id = ${later.id}`)[0]!.start_at).toEqual(at);
  });

  it('NOTIFY reaches a listener when the transaction commits, never for a rollback', async () => {
    const heard: string[] = [];
    const listening = await sql.listen('jobplane_outbox', (payload) => heard.push(payload));
    try {
      await sql.begin(async (tx) => {
        await enqueueJob(tx, noop);
        await enqueueJob(tx, noop);
        // Before commit: nothing delivered yet.
        expect(heard).toEqual([]);
      });
      await vi.waitFor(() => expect(heard).toHaveLength(1), { timeout: 5000, interval: 20 });
      await sql
        .begin(async (tx) => {
          await enqueueJob(tx, noop);
          throw new Error('rolled back');
        })
        .catch(() => {});
      // A committed insert afterwards is the fence: its notification arrives after any the rollback could have sent.
      await sql.begin((tx) => enqueueJob(tx, noop));
      await vi.waitFor(() => expect(heard).toHaveLength(2), { timeout: 5000, interval: 20 });
    } finally {
      await listening.unlisten();
    }
  });
});
