/**
 * Peer (c): BullMQ against a `redis-server` of its own (free port, temp dir,
 * `--appendonly yes --appendfsync always --save ''`: every write is in the
 * AOF and fsynced before Redis answers), behind the thin submit route
 * (`queue.add`). Workers run in this process, concurrency 32 per queue.
 * chain10 is one job that checkpoints after each step with
 * `job.updateData({ step })` — BullMQ's documented "step job" pattern, so a
 * crash resumes at the step after the last checkpoint, like the other
 * engines. Done is the worker's `completed` event (after the job moved to
 * completed in Redis).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { freePort } from '../../runtime/host-port.ts';
import { loadBullMq, type BullJob } from './packages.ts';
import { chainSteps, Completions, openStepsDb, postToReceiver, serveSubmitRoute, submitOverHttp, type Peer, type PeerEnv } from './peer.ts';

export const redisArgs = ['--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];

async function startRedis(env: PeerEnv): Promise<{ port: number; pid: number }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', env.tmpDir, ...redisArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  env.cleanup.add('redis-server', async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
  return { port, pid: child.pid! };
}

export const bullmq: Peer = {
  name: 'bullmq',
  describe: 'BullMQ 6.7.0, redis-server (AOF, appendfsync always)',
  async start(env) {
    const { Queue, Worker } = await loadBullMq();
    const redis = await startRedis(env);
    const connection = { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null };
    const steps = await openStepsDb(env);
    const completions = new Completions();
    const queues = { post1: new Queue('post1', { connection }), chain10: new Queue('chain10', { connection }) };
    const workers = [
      new Worker('post1', async (job: BullJob<{ id: string }>) => postToReceiver(env.receiverUrl, job.data.id), { connection, concurrency: 32 }),
      new Worker(
        'chain10',
        async (job: BullJob<{ id: string; step: number }>) => {
          for (let step = job.data.step + 1; step <= chainSteps; step++) {
            await steps.write(job.data.id, step);
            await job.updateData({ ...job.data, step });
          }
        },
        { connection, concurrency: 32 },
      ),
    ];
    for (const w of workers) {
      w.on('completed', (job: BullJob<{ id: string }>) => completions.succeeded(job.data.id));
      w.on('failed', (job: BullJob<{ id: string }> | undefined, err: Error) => job && completions.failed(job.data.id, err));
    }
    env.cleanup.add('bullmq workers and queues', async () => {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(Object.values(queues).map((q) => q.close()));
    });
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    const url = await serveSubmitRoute(env.cleanup, async (workload) => {
      const id = randomUUID();
      await queues[workload].add(workload, { id, step: 0 }, { jobId: id, attempts: 12, backoff: { type: 'exponential', delay: 1000 } });
      return id;
    });
    return {
      submit: (workload) => submitOverHttp(url, workload, env.signal),
      done: (id) => completions.wait(id),
      pids: () => [redis.pid],
      durability: `redis-server ${redisArgs.map((a) => a || "''").join(' ')}: every write appended to the AOF and fsynced before the reply (no RDB snapshots)`,
      skipped: {},
    };
  },
};
