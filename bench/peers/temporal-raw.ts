/**
 * Peer (a): the raw Temporal SDK on the same kind of dev server Jobplane runs
 * on in the bench (bench/stack.ts: SQLite file, synchronous=full), with
 * workflows of its own, a worker in this process with the SDK's default
 * tuning, and `client.workflow.start` behind the thin submit route. Done is
 * the workflow's result (the client's long poll).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { startBase } from '../stack.ts';
import { chainSteps, Completions, openStepsDb, postToReceiver, serveSubmitRoute, submitOverHttp, type Peer } from './peer.ts';
import { installTemporalRuntime } from './temporal-runtime.ts';

export function createRawActivities(deps: { write(runId: string, step: number): Promise<void> }) {
  return {
    post: (url: string, jobId: string) => postToReceiver(url, jobId),
    writeStep: (runId: string, step: number) => deps.write(runId, step),
  };
}

export const temporalRaw: Peer = {
  name: 'temporal-sdk',
  describe: 'raw Temporal SDK (own workflows, default worker), dev server',
  async start(env) {
    installTemporalRuntime();
    const base = await startBase(env.cleanup, env.signal);
    const steps = await openStepsDb(env);
    const taskQueue = `peers-raw-${randomUUID().slice(0, 8)}`;
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: path.join(import.meta.dirname, 'temporal-workflows.ts'), logger: quietLogger });
    const nativeConnection = await NativeConnection.connect({ address: base.temporal.address });
    env.cleanup.add('raw worker connection', () => nativeConnection.close());
    const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle, activities: createRawActivities(steps) });
    const running = worker.run();
    running.catch((err: unknown) => env.log(`raw worker stopped: ${(err as Error).message}`));
    env.cleanup.add('raw worker', async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => {});
    });

    const connection = await Connection.connect({ address: base.temporal.address });
    env.cleanup.add('raw client connection', () => connection.close());
    const client = new Client({ connection });
    const completions = new Completions();
    const url = await serveSubmitRoute(env.cleanup, async (workload) => {
      const workflowId = `peer-${workload}-${randomUUID()}`;
      const handle = await client.workflow.start(workload === 'post1' ? 'peerPost1' : 'peerChain10', {
        taskQueue,
        workflowId,
        args: [workload === 'post1' ? env.receiverUrl : chainSteps],
      });
      handle.result().then(
        () => completions.succeeded(workflowId),
        (err: unknown) => completions.failed(workflowId, err),
      );
      return workflowId;
    });
    return {
      submit: (workload) => submitOverHttp(url, workload, env.signal),
      done: (id) => completions.wait(id),
      pids: () => base.temporal.pids(),
      durability: base.temporal.durability,
      skipped: {},
    };
  },
};

const quietLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error(m: string) { process.stderr.write(`${m}\n`); } };
