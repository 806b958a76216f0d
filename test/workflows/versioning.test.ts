/**
 * The team's rule for changing running workflows (docs/VERSIONING.md), shown
 * on the real dev server with a fixture workflow in three versions, each
 * bundled on its own:
 *
 * - runs in flight under v1 (blocked on a signal) keep the old path after the
 *   workers are swapped to v2 guarded by `patched()`; new runs take the new
 *   step (a patch marker and the new activity in their history);
 * - the replay gate: v1 histories replayed against the UNGUARDED v2 fail with
 *   DeterminismViolationError; against the guarded v2 they pass.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { temporal } from '@temporalio/proto';
import { fixtureActivities } from '../fixtures/versioning/activities.ts';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { codecFrom, failureConverterPath } from '../../runtime/temporal.ts';
import { replayDir } from '../helpers/record-history.ts';
import { startTestTemporal, testCodecKeys, type TestTemporal } from '../helpers/stack.ts';

type History = temporal.api.history.v1.IHistory;
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/versioning/${name}.ts`, import.meta.url));
const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m), log() {} };

let server: TestTemporal;
let client: Client;
let connection: NativeConnection;
const bundles: Record<string, WorkflowBundleWithSourceMap> = {};
const taskQueue = `versioning-${Date.now()}`;

beforeAll(async () => {
  server = await startTestTemporal();
  client = new Client({ connection: await Connection.connect({ address: server.address }) });
  connection = await NativeConnection.connect({ address: server.address });
  for (const v of ['v1', 'v2-guarded', 'v2-unguarded', 'approval-guarded', 'approval-unguarded']) {
    bundles[v] = await bundleWorkflowCode({ workflowsPath: fixture(v), failureConverterPath, logger: quiet });
  }
});
afterAll(async () => {
  await connection?.close();
  await client?.connection.close();
  await server?.stop();
});

function worker(version: string) {
  return Worker.create({ connection, taskQueue, workflowBundle: bundles[version]!, activities: fixtureActivities });
}

async function start(id: string): Promise<WorkflowHandle> {
  return await client.workflow.start('orderWorkflow', { taskQueue, workflowId: `${taskQueue}-${id}`, args: [id] });
}

/** Resolves once the run has charged the card and waits for `go`. */
async function blockedOnSignal(handle: WorkflowHandle): Promise<void> {
  await expect
    .poll(async () => ((await handle.fetchHistory()).events ?? []).some((e) => e.activityTaskCompletedEventAttributes), { timeout: 30_000 })
    .toBe(true);
}

const events = async (handle: WorkflowHandle) => (await handle.fetchHistory()).events ?? [];
const activityTypes = (evs: temporal.api.history.v1.IHistoryEvent[]) => evs.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
const markers = (evs: temporal.api.history.v1.IHistoryEvent[]) => evs.filter((e) => e.markerRecordedEventAttributes);

describe('changing a workflow with runs in flight', () => {
  let v1Finished: History;
  let v1InFlight: History;

  it('old runs finish on the old path after the swap; new runs take the new step', async () => {
    // v1 is deployed; one run finishes under it, one is left waiting for a signal.
    const v1 = await worker('v1');
    const done = await start('done-on-v1');
    const inFlight = await start('in-flight');
    await v1.runUntil(async () => {
      await blockedOnSignal(done);
      await done.signal('go');
      expect(await done.result()).toEqual(['charged:done-on-v1', 'shipped:done-on-v1']);
      await blockedOnSignal(inFlight);
    });
    v1Finished = await done.fetchHistory();
    v1InFlight = await inFlight.fetchHistory();

    // Swap: only the guarded v2 polls now. The in-flight run replays v1's history under v2 and goes on.
    const v2 = await worker('v2-guarded');
    await v2.runUntil(async () => {
      await inFlight.signal('go');
      expect(await inFlight.result()).toEqual(['charged:in-flight', 'shipped:in-flight']);
      const fresh = await start('new-on-v2');
      await blockedOnSignal(fresh);
      await fresh.signal('go');
      expect(await fresh.result()).toEqual(['charged:new-on-v2', 'fraud-checked:new-on-v2', 'shipped:new-on-v2']);

      const old = await events(inFlight);
      expect(activityTypes(old)).toEqual(['chargeCard', 'shipOrder']);
      expect(markers(old)).toHaveLength(0);
      const now = await events(fresh);
      expect(activityTypes(now)).toEqual(['chargeCard', 'checkFraud', 'shipOrder']);
      expect(markers(now)).toHaveLength(1);
      expect(markers(now)[0]!.markerRecordedEventAttributes!.markerName).toBe('core_patch');
    });
  });

  it('the replay gate: v1 histories fail against the unguarded change and pass against the guarded one', async () => {
    await expect(Worker.runReplayHistory({ workflowBundle: bundles['v2-unguarded']! }, v1Finished)).rejects.toThrow(DeterminismViolationError);
    // (The in-flight history ends at a workflow task without commands, so replay alone cannot tell there; its
    // next task under the unguarded code would fail the same way. Finished histories are what the gate keeps.)
    for (const history of [v1Finished, v1InFlight]) {
      await expect(Worker.runReplayHistory({ workflowBundle: bundles['v2-guarded']! }, history)).resolves.toBeUndefined();
      await expect(Worker.runReplayHistory({ workflowBundle: bundles.v1! }, history)).resolves.toBeUndefined();
    }
  });
});

describe('the replay gate on the real recorded histories', () => {
  const dir = path.join(replayDir, 'approval-request');
  const histories = readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => ({ name: f, history: JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as History }));
  const dataConverter = { payloadCodecs: [codecFrom({ codecKeys: testCodecKeys, codecCurrentKey: undefined })], failureConverterPath };

  it('an unguarded new step in approval.request fails every recorded approval history; the patched one passes them all', async () => {
    expect(histories.length).toBeGreaterThanOrEqual(6);
    for (const { name, history } of histories) {
      await expect(Worker.runReplayHistory({ workflowBundle: bundles['approval-unguarded']!, dataConverter }, history), name).rejects.toThrow(DeterminismViolationError);
      await expect(Worker.runReplayHistory({ workflowBundle: bundles['approval-guarded']!, dataConverter }, history), name).resolves.toBeUndefined();
    }
  });
});
