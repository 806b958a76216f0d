/**
 * What every peer of `npm run bench:peers` implements, and the pieces they
 * share: the thin Hono submit route, the one side effect of workload 1 (an
 * HTTP POST to the local receiver), the one Postgres write per step of
 * workload 2 (the same `peer_steps` table for every peer), and a map of
 * completions so "done" is the engine's own notification, timed where it
 * arrives.
 */
import { performance } from 'node:perf_hooks';
import { Hono } from 'hono';
import postgres from 'postgres';
import type { Cleanup } from '../cleanup.ts';
import { serveFetch } from '../http.ts';

export const workloadNames = ['post1', 'chain10'] as const;
/** `post1`: one step, an HTTP POST to the receiver. `chain10`: ten sequential steps, one Postgres write each. */
export type WorkloadName = (typeof workloadNames)[number];
export const chainSteps = 10;

/** The same body every peer's post1 job sends to the receiver (the payload of the main bench's `deliveryInput`). */
export const postPayload = { event: 'bench', items: [1, 2, 3] };

export interface PeerEnv {
  /** Postgres database of this peer's run (scratch): holds `peer_steps` and, for peers on Postgres, the engine's tables. */
  databaseUrl: string;
  /** Where post1 jobs POST to. */
  receiverUrl: string;
  /** Scratch directory of this peer (Redis data, …), removed afterwards. */
  tmpDir: string;
  cleanup: Cleanup;
  signal: AbortSignal;
  log(message: string): void;
}

export interface RunningPeer {
  /** Submits one job of `workload` over HTTP; resolves with its id once the HTTP answer arrived. */
  submit(workload: WorkloadName): Promise<string>;
  /** Resolves with `performance.now()` at the moment the engine reported the job done; rejects if it failed. */
  done(id: string): Promise<number>;
  /** Engine processes besides this one and Postgres (dev server, redis-server): their descendants are counted too. */
  pids(): number[];
  /** What the engine commits to disk before it acknowledges, for the results file. */
  durability: string;
  /** Workloads this peer can run, and why the others are missing. */
  skipped: Partial<Record<WorkloadName, string>>;
}

export interface Peer {
  name: string;
  /** One line for the table: how jobs are submitted and run. */
  describe: string;
  /** Starts engine, worker (in this process) and submit route; registers every teardown in `env.cleanup`. */
  start(env: PeerEnv): Promise<RunningPeer>;
}

/**
 * Completions keyed by job id: the engine's "done" event may arrive before
 * the submit's HTTP answer, so whichever comes first creates the entry.
 */
export class Completions {
  private readonly entries = new Map<string, { promise: Promise<number>; resolve(at: number): void; reject(err: Error): void }>();

  private entry(id: string) {
    let e = this.entries.get(id);
    if (!e) {
      let resolve!: (at: number) => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<number>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {});
      e = { promise, resolve, reject };
      this.entries.set(id, e);
    }
    return e;
  }

  succeeded(id: string): void {
    this.entry(id).resolve(performance.now());
  }

  failed(id: string, err: unknown): void {
    this.entry(id).reject(err instanceof Error ? err : new Error(String(err)));
  }

  wait(id: string): Promise<number> {
    const e = this.entry(id);
    // Once awaited the entry is not needed again; keep the map small on long runs.
    return e.promise.finally(() => this.entries.delete(id));
  }
}

/**
 * The thin route every peer but Jobplane and Restate (their own HTTP fronts) is submitted through: `POST
 * /jobs/:workload` → the peer's enqueue call → `201 {id}`. It does nothing
 * else (no auth, no validation, no database), so what it adds is HTTP and
 * Hono only.
 */
export async function serveSubmitRoute(cleanup: Cleanup, enqueue: (workload: WorkloadName) => Promise<string>): Promise<string> {
  const app = new Hono().post('/jobs/:workload', async (c) => {
    const workload = c.req.param('workload') as WorkloadName;
    if (!workloadNames.includes(workload)) return c.json({ error: 'unknown workload' }, 404);
    await c.req.json();
    return c.json({ id: await enqueue(workload) }, 201);
  });
  const server = await serveFetch(app.fetch);
  cleanup.add('submit route', () => server.close());
  return server.url;
}

/** The client side of {@link serveSubmitRoute}. */
export async function submitOverHttp(url: string, workload: WorkloadName, signal: AbortSignal): Promise<string> {
  const res = await fetch(`${url}/jobs/${workload}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ payload: postPayload }),
    signal,
  });
  const body = (await res.json()) as { id?: string };
  if (res.status !== 201 || !body.id) throw new Error(`submit answered ${res.status}: ${JSON.stringify(body)}`);
  return body.id;
}

/** Workload 1's side effect: one POST carrying the job id as idempotency key, as Jobplane's delivery does. */
export async function postToReceiver(url: string, jobId: string): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': jobId },
    body: JSON.stringify(postPayload),
  });
  await res.text();
  if (!res.ok) throw new Error(`receiver answered ${res.status}`);
}

export const stepsTableSql = `create table if not exists peer_steps (
  run_id text not null,
  step integer not null,
  written_at timestamptz not null default now(),
  primary key (run_id, step)
)`;

/** One keyed, idempotent write per step (a retried step writes nothing twice). */
export const stepInsertSql = 'insert into peer_steps (run_id, step) values ($1, $2) on conflict do nothing';

/** A postgres.js pool for step writes, with the table created; peers whose engine has no Postgres pool of its own use it. */
export async function openStepsDb(env: PeerEnv, max = 10) {
  const sql = postgres(env.databaseUrl, { max, onnotice: () => {} });
  env.cleanup.add('steps db', () => sql.end({ timeout: 5 }));
  await sql.unsafe(stepsTableSql);
  return {
    sql,
    write: async (runId: string, step: number) => {
      await sql.unsafe(stepInsertSql, [runId, step]);
    },
  };
}

/** Creates `peer_steps` for a peer that writes through a pool of its own engine. */
export async function ensureStepsTable(databaseUrl: string): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(stepsTableSql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
