/**
 * Peer (d): graphile-worker on its own scratch Postgres database (the peer's
 * `databaseUrl`, Postgres defaults: synchronous_commit=on, fsync=on), runner
 * in this process with concurrency 32, jobs added by `runner.addJob` behind
 * the thin submit route (add_job NOTIFYs the workers, so nothing waits for
 * a poll). chain10 is one job per step: each step writes its row and adds
 * the next step's job in one transaction, so a crash resumes after the last
 * committed step. Done is `job:complete` of the last step (after its
 * completion was written back).
 */
import { randomUUID } from 'node:crypto';
import { loadGraphileWorker, type GraphileJob } from './packages.ts';
import { chainSteps, Completions, postToReceiver, serveSubmitRoute, ensureStepsTable, stepInsertSql, submitOverHttp, type Peer } from './peer.ts';

interface Payload {
  id: string;
  step?: number;
}

export const graphile: Peer = {
  name: 'graphile-worker',
  describe: 'graphile-worker 0.17.3, Postgres (LISTEN/NOTIFY)',
  async start(env) {
    const { run, Logger } = await loadGraphileWorker();
    await ensureStepsTable(env.databaseUrl);
    const completions = new Completions();
    const runner = await run({
      connectionString: env.databaseUrl,
      concurrency: 32,
      maxPoolSize: 40,
      noHandleSignals: true,
      logger: new Logger(() => () => {}),
      taskList: {
        post1: async (payload) => postToReceiver(env.receiverUrl, (payload as Payload).id),
        chain10: async (payload, helpers) => {
          const { id, step = 1 } = payload as Payload;
          await helpers.withPgClient(async (client) => {
            await client.query('begin');
            try {
              await client.query(stepInsertSql, [id, step]);
              if (step < chainSteps) await client.query('select graphile_worker.add_job($1, $2::json)', ['chain10', JSON.stringify({ id, step: step + 1 })]);
              await client.query('commit');
            } catch (err) {
              await client.query('rollback');
              throw err;
            }
          });
        },
      },
    });
    env.cleanup.add('graphile runner', () => runner.stop());
    runner.events.on('job:complete', ({ job, error }: { job: GraphileJob; error: unknown }) => {
      const payload = job.payload as Payload;
      if (error) completions.failed(payload.id, error);
      else if (job.task_identifier === 'post1' || payload.step === chainSteps) completions.succeeded(payload.id);
    });
    const url = await serveSubmitRoute(env.cleanup, async (workload) => {
      const id = randomUUID();
      await runner.addJob(workload, workload === 'chain10' ? { id, step: 1 } : { id });
      return id;
    });
    return {
      submit: (workload) => submitOverHttp(url, workload, env.signal),
      done: (id) => completions.wait(id),
      pids: () => [],
      durability: 'graphile-worker tables in Postgres: every add_job and completion a committed transaction (durability of Postgres, recorded under postgres)',
      skipped: {},
    };
  },
};

