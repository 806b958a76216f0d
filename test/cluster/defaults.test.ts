/**
 * The cluster tier runs on the server's own defaults: every service loads the
 * shipped dynamic config (and nothing else overrides a default), the
 * visibility rate limit is the server's 10 per second — and on it a burst of
 * creates never waits on visibility, because creates make no visibility call
 * beyond the running-jobs cap's first count.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { visibilityCallTally } from '../../api/limits/visibility.ts';
import { tenants } from '../../db/schema/index.ts';
import { shippedDynamicConfigFile } from '../../scripts/lib/temporal-cluster/cluster.ts';
import { clusterServices } from '../../scripts/lib/temporal-cluster/config.ts';
import { defaultDynamicConfig } from '../../scripts/lib/temporal-dev-server.ts';
import { ensureTemporalServerTools } from '../../scripts/lib/temporal-server-tools.ts';
import { scrapeCounter } from '../helpers/cluster.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

const cluster = inject('temporalCluster');
let stack: TestStack;

beforeAll(async () => {
  if (!cluster) throw new Error('test/cluster/defaults.test.ts runs in the cluster tier: npm run test:cluster');
  stack = await startTestStack('defaults');
  await stack.startWorkers();
});
afterAll(async () => {
  await stack?.close();
});

describe('the shipped dynamic config', () => {
  it('is what every service of the cluster loads, and the server binary accepts every key in it', async () => {
    for (const service of clusterServices) {
      const config = JSON.parse(readFileSync(path.join(cluster!.dir, 'config', service, 'development.yaml'), 'utf8')) as { dynamicConfigClient: { filepath: string } };
      expect(config.dynamicConfigClient.filepath, service).toBe(shippedDynamicConfigFile);
    }
    const { server } = await ensureTemporalServerTools({ quiet: true });
    const { stdout, stderr } = await promisify(execFile)(server, ['validate-dynamic-config', shippedDynamicConfigFile]);
    expect(`${stdout}${stderr}`).not.toMatch(/error|unknown/i);
  });

  it('overrides exactly the dev server’s Jobplane settings, each with the reason above it, and leaves the visibility rate at its default', () => {
    const text = readFileSync(shippedDynamicConfigFile, 'utf8');
    const keys = [...text.matchAll(/^([a-zA-Z][\w.]*):\s*$/gm)].map((m) => m[1]!);
    expect(keys.sort()).toEqual(Object.keys(defaultDynamicConfig).sort());
    for (const key of keys) {
      const before = text.slice(0, text.indexOf(`${key}:`)).trimEnd().split('\n').at(-1)!;
      expect(before, `a comment says why ${key} is overridden`).toMatch(/^#/);
    }
    expect(keys.some((k) => k.includes('visibility'))).toBe(false);
  });
});

describe('creates on the server’s default visibility limit', () => {
  it('a burst of 300 creates at 16 in flight makes no visibility call beyond the cap’s first count, and none is throttled', async () => {
    // The tenant's rate limit raised (100/s, bursts of 300) so it is not what limits the burst; the running cap at its default (1000).
    // Then count + burst + rate × age stays under the cap for ~7 s after a count: no count is needed on the hot path.
    await stack.db.update(tenants).set({ createRatePerSecond: 100, createBurst: 300 }).where(eq(tenants.id, stack.tenantId));
    const countsBefore = callsFor('count of running jobs');
    const refusalsBefore = await scrapeCounter(`http://127.0.0.1:${cluster!.ports.services.frontend.metrics}/metrics`, 'service_errors_resource_exhausted', {
      operation: 'CountWorkflowExecutions',
    });
    const statuses: number[] = [];
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 300) {
          next++;
          const res = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'noop', input: {} }) });
          statuses.push(res.status);
          await res.body?.cancel();
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(`300 creates at 16 in flight on the cluster: ${(300 / seconds).toFixed(1)} creates/s`);
    expect(statuses.filter((s) => s === 201)).toHaveLength(300);
    // At most the first count of this tenant and one background refresh per interval: 5 s, or half the time the
    // bound (count + burst 300 + 100/s × age) needs to reach the cap of 1000 — (1000 − 300) / 100 / 2 = 3.5 s here.
    expect(callsFor('count of running jobs') - countsBefore).toBeLessThanOrEqual(1 + Math.ceil(seconds / 3.5));
    // The server's metrics reach its scrape endpoint on a flush interval of about a second.
    await new Promise((r) => setTimeout(r, 3000));
    const refusalsAfter = await scrapeCounter(`http://127.0.0.1:${cluster!.ports.services.frontend.metrics}/metrics`, 'service_errors_resource_exhausted', {
      operation: 'CountWorkflowExecutions',
    });
    expect(refusalsAfter - refusalsBefore).toBe(0);
  });
});

function callsFor(call: string): number {
  return visibilityCallTally.get(`${call}\0sent`) ?? 0;
}
