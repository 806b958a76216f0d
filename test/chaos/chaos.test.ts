/**
 * `npm run chaos`: one fault at a time against the production topology with
 * jobs of mixed types in flight (test/chaos/harness.ts). The bar for every
 * fault: every job eventually accepted, every accepted job completed, none
 * lost, no effect applied twice. Prints the table and writes it to
 * `bench/results/chaos-latest.json`. JOBPLANE_CHAOS_SIZE=reduced (CI) runs
 * 12 jobs per fault, the default 60.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ChaosEnv, faults, formatChaosTable, type ChaosResult } from './harness.ts';
import { repoRoot } from '../helpers/stack.ts';

const size = process.env.JOBPLANE_CHAOS_SIZE === 'reduced' ? 12 : Number(process.env.JOBPLANE_CHAOS_JOBS ?? 60);
let env: ChaosEnv;
const results: ChaosResult[] = [];

beforeAll(async () => {
  env = await ChaosEnv.start();
}, 240_000);
afterAll(async () => {
  if (results.length > 0) {
    const table = formatChaosTable(results);
    console.log(`\nchaos run: ${size} jobs per fault (webhook.deliver, noop, approval.request in turn)\n${table}\n`);
    const dir = path.join(repoRoot, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'chaos-latest.json'), `${JSON.stringify({ at: new Date().toISOString(), jobsPerFault: size, results, table }, null, 2)}\n`);
  }
  await env?.close();
}, 120_000);

for (const fault of faults) {
  it(`${fault.name}: every job accepted and completed once, none lost`, async () => {
    const result = await env.run(fault, size);
    results.push(result);
    expect(result.lostJobs).toEqual([]);
    expect(result.accepted).toBe(result.submitted);
    expect(result.completed).toBe(result.accepted);
    expect(result.duplicateEffects).toBe(0);
    expect(result.unexpectedResponses).toBe(0);
    expect(result.recoverSeconds).not.toBeNull();
  }, 420_000);
}
