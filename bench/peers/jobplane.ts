/**
 * Peer (b): Jobplane through its own API — `POST /v1/jobs` of
 * `webhook.deliver` (auth, validation, job + audit rows, the Temporal start,
 * describe) on the bench's stack (bench/stack.ts: startBase + startWorkload,
 * API on a socket, Jobplane's own workers in this process). Done is the
 * workflow's result. Jobplane has no job type shaped like a 10-step chain of
 * Postgres writes, and adding one means a contract and a workflow, outside
 * this bench: chain10 is left out for it (the raw SDK row shows what
 * Temporal does with it).
 */
import { performance } from 'node:perf_hooks';
import { createViaApi, deliveryInput } from '../jobs.ts';
import { startBase, startWorkload } from '../stack.ts';
import type { Peer } from './peer.ts';
import { installTemporalRuntime } from './temporal-runtime.ts';

export const jobplane: Peer = {
  name: 'jobplane',
  describe: 'Jobplane API (POST /v1/jobs webhook.deliver), dev server',
  async start(env) {
    installTemporalRuntime();
    const base = await startBase(env.cleanup, env.signal);
    const wl = await startWorkload(base, 'peers');
    const input = deliveryInput(env.receiverUrl);
    return {
      submit: async (workload) => {
        if (workload !== 'post1') throw new Error(`jobplane: no ${workload} job type`);
        return createViaApi(wl, input);
      },
      done: async (id) => {
        await wl.client.workflow.getHandle(id).result();
        return performance.now();
      },
      pids: () => base.temporal.pids(),
      durability: `${base.temporal.durability}; its Postgres (API rows, audit): ${base.postgresDurability}`,
      skipped: { chain10: 'no Jobplane job type runs a 10-step chain of Postgres writes (a new contract + workflow is outside the bench)' },
    };
  },
};
