/**
 * Peer (e): DBOS Transact 5.3.0, its system database in the peer's scratch
 * Postgres database (Postgres defaults: synchronous_commit=on, fsync=on).
 * Workflows registered before `DBOS.launch()`, the queue after it (5.x:
 * `DBOS.registerQueue`, worker concurrency 32, DBOS's default 1 s queue
 * polling unless `BENCH_PEERS_DBOS_POLL_MS` sets it), jobs started on the queue by `DBOS.startWorkflow` behind the
 * thin submit route; each step is a `DBOS.runStep` (its output checkpointed
 * in the system database). Done is the handle's `getResult()`.
 */
import { randomUUID } from 'node:crypto';
import { loadDbos, type DbosHandle } from './packages.ts';
import { chainSteps, Completions, openStepsDb, postToReceiver, serveSubmitRoute, submitOverHttp, type Peer } from './peer.ts';

const queueName = 'peers';
/** `BENCH_PEERS_DBOS_POLL_MS`: the queue's polling interval (unset: DBOS's default, 1 s). */
const pollMs = process.env.BENCH_PEERS_DBOS_POLL_MS ? Number(process.env.BENCH_PEERS_DBOS_POLL_MS) : undefined;

export const dbos: Peer = {
  name: 'dbos',
  describe: 'DBOS Transact 5.3.0, Postgres system database, queue',
  async start(env) {
    const { DBOS } = await loadDbos();
    const steps = await openStepsDb(env);
    const post1 = DBOS.registerWorkflow(
      async (url: string, id: string) => {
        await DBOS.runStep(() => postToReceiver(url, id), { name: 'post' });
      },
      { name: 'post1' },
    );
    const chain10 = DBOS.registerWorkflow(
      async (id: string) => {
        for (let step = 1; step <= chainSteps; step++) await DBOS.runStep(() => steps.write(id, step), { name: `step-${step}` });
      },
      { name: 'chain10' },
    );
    DBOS.setConfig({ name: 'jobplane-bench-peers', systemDatabaseUrl: env.databaseUrl, logLevel: 'error' });
    await DBOS.launch();
    env.cleanup.add('dbos', () => DBOS.shutdown());
    await DBOS.registerQueue(queueName, { workerConcurrency: 32, ...(pollMs ? { minPollingIntervalMs: pollMs } : {}) });
    const completions = new Completions();
    const url = await serveSubmitRoute(env.cleanup, async (workload) => {
      const id = randomUUID();
      const handle: DbosHandle =
        workload === 'post1'
          ? await DBOS.startWorkflow(post1, { workflowID: id, queueName })(env.receiverUrl, id)
          : await DBOS.startWorkflow(chain10, { workflowID: id, queueName })(id);
      handle.getResult().then(
        () => completions.succeeded(id),
        (err: unknown) => completions.failed(id, err),
      );
      return id;
    });
    return {
      submit: (workload) => submitOverHttp(url, workload, env.signal),
      done: (id) => completions.wait(id),
      pids: () => [],
      durability: `queue polling ${pollMs ?? 1000} ms; DBOS system tables in Postgres: the enqueue, each step output and the result committed transactions (durability of Postgres, recorded under postgres)`,
      skipped: {},
    };
  },
};
