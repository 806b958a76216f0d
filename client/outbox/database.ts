/**
 * The two Postgres drivers the outbox helpers accept, told apart by shape so
 * the client package loads neither: postgres.js (`sql`, or the `tx` of
 * `sql.begin`) and node-postgres (`pg` Client, PoolClient or Pool).
 */
import { OutboxTransactionRequiredError } from './errors.ts';

type Row = Record<string, unknown>;

/** postgres.js: `sql`, a `sql.begin()` transaction or a reserved connection. */
export interface PostgresJsDatabase {
  // The parameter types of postgres.js' own signature, loosened to what these helpers pass.
  unsafe(query: string, parameters?: never[], options?: never): PromiseLike<readonly Row[]> & { simple(): PromiseLike<unknown> };
  /** Present on `sql.begin()` transactions (and their savepoints) only. */
  savepoint?: unknown;
}

/** node-postgres: a `Client`, a `PoolClient` (from `pool.connect()`) or a `Pool`. */
export interface NodePgDatabase {
  query(text: string, values?: unknown[]): Promise<{ rows: Row[] }>;
}

/** What `enqueueJob` and `ensureOutboxTable` accept. */
export type OutboxDatabase = PostgresJsDatabase | NodePgDatabase;

const isPostgresJs = (db: OutboxDatabase): db is PostgresJsDatabase => typeof (db as PostgresJsDatabase).unsafe === 'function';

/** Runs one parameterised statement and returns its rows. */
export async function queryRows(db: OutboxDatabase, text: string, params: unknown[]): Promise<Row[]> {
  if (isPostgresJs(db)) return [...(await db.unsafe(text, params as never[]))];
  return (await db.query(text, params)).rows;
}

/** Runs several statements in one round trip (the simple protocol): one implicit transaction unless inside the caller's. */
export async function queryScript(db: OutboxDatabase, script: string): Promise<void> {
  if (isPostgresJs(db)) await db.unsafe(script).simple();
  else await db.query(script);
}

/** SQLSTATE 25P01: SAVEPOINT outside a transaction block. */
const noActiveTransaction = '25P01';

/**
 * Resolves when `db` runs statements inside an open transaction; throws
 * `OutboxTransactionRequiredError` otherwise. A postgres.js `sql.begin()`
 * transaction says so by its shape (no round trip); anything else is asked
 * with a savepoint, which Postgres refuses outside a transaction block.
 */
export async function assertInTransaction(db: OutboxDatabase): Promise<void> {
  if (isPostgresJs(db) && typeof db.savepoint === 'function') return;
  try {
    if (isPostgresJs(db)) {
      await db.unsafe('savepoint jobplane_outbox_probe');
      await db.unsafe('release savepoint jobplane_outbox_probe');
    } else {
      await db.query('savepoint jobplane_outbox_probe; release savepoint jobplane_outbox_probe');
    }
  } catch (err) {
    if ((err as { code?: unknown }).code === noActiveTransaction) throw new OutboxTransactionRequiredError();
    throw err;
  }
}
