/**
 * Job outcome metrics from the workers (workflows/job-metrics-interceptor.ts):
 * a real worker process — running the `resource` slot tuner, which this also
 * shows polls and completes jobs — runs two succeeding and one failing
 * webhook delivery, and its Prometheus endpoint then serves the finished
 * counter and the duration histogram by job type, tenant and status.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ApplicationFailure, CancelledFailure, ContinueAsNew } from '@temporalio/workflow';
import { loadConfig } from '../../runtime/config.ts';
import { workerSlotOptions } from '../../workers/create-workers.ts';
import { jobTypeOf, outcomeOfError, tenantOf } from '../../workflows/job-metrics-interceptor.ts';
import { freePort } from '../../runtime/host-port.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { repoRoot, startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { createJob } from '../helpers/http.ts';
import { waitAtMost } from '../helpers/poll.ts';

/** Series names as the worker's Prometheus endpoint serves them (no `temporal_` prefix, no `_total` suffix). */
export const jobMetricSeries = {
  finished: 'jobplane_jobs_finished',
  durationCount: 'jobplane_job_duration_count',
  durationBucket: 'jobplane_job_duration_bucket',
  durationSum: 'jobplane_job_duration_sum',
} as const;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Samples of a Prometheus text exposition. */
function samples(text: string): Sample[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .flatMap((l) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(l);
      if (!m) return [];
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]));
      return [{ name: m[1]!, labels, value: Number(m[3]) }];
    });
}

/** Sum of a series' samples whose labels include `match`. */
function total(all: Sample[], name: string, match: Record<string, string>): number {
  return all.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}

describe('worker slot options (JOBPLANE_WORKER_TUNER)', () => {
  it('fixed (default): a fixed number of activity slots, no tuner', () => {
    expect(workerSlotOptions(loadConfig({}))).toEqual({ maxConcurrentActivityTaskExecutions: 100 });
    expect(workerSlotOptions(loadConfig({ JOBPLANE_WORKER_TUNER: 'fixed', JOBPLANE_WORKER_MAX_CONCURRENT_ACTIVITIES: '7' }))).toEqual({
      maxConcurrentActivityTaskExecutions: 7,
    });
  });

  it('resource: the resource-based tuner with the targets, and none of the maxConcurrent options', () => {
    expect(workerSlotOptions(loadConfig({ JOBPLANE_WORKER_TUNER: 'resource' }))).toEqual({
      tuner: { tunerOptions: { targetMemoryUsage: 0.8, targetCpuUsage: 0.9 } },
    });
    const opts = workerSlotOptions(loadConfig({ JOBPLANE_WORKER_TUNER: 'resource', JOBPLANE_WORKER_TARGET_MEMORY: '0.5', JOBPLANE_WORKER_TARGET_CPU: '0.7', JOBPLANE_WORKER_MAX_CONCURRENT_ACTIVITIES: '7' }));
    expect(opts).toEqual({ tuner: { tunerOptions: { targetMemoryUsage: 0.5, targetCpuUsage: 0.7 } } });
    expect(Object.keys(opts)).toEqual(['tuner']);
  });

  it('refuses unknown tuners and targets outside 0..1', () => {
    expect(() => loadConfig({ JOBPLANE_WORKER_TUNER: 'auto' })).toThrow(/JOBPLANE_WORKER_TUNER/);
    expect(() => loadConfig({ JOBPLANE_WORKER_TARGET_MEMORY: '1.5' })).toThrow(/JOBPLANE_WORKER_TARGET_MEMORY/);
    expect(() => loadConfig({ JOBPLANE_WORKER_TARGET_CPU: '0' })).toThrow(/JOBPLANE_WORKER_TARGET_CPU/);
  });
});

describe('job metric tags', () => {
  it('maps workflow types to contract job types, reads the tenant from the envelope, and classifies errors', () => {
    expect(jobTypeOf('webhookDeliverWorkflow')).toBe('webhook.deliver');
    expect(jobTypeOf('approvalRequestWorkflow')).toBe('approval.request');
    expect(jobTypeOf('somethingElse')).toBe('somethingElse');
    expect(tenantOf([{ tenantId: 't1', jobId: 'j1', input: {} }])).toBe('t1');
    expect(tenantOf([])).toBe('unknown');
    expect(tenantOf(['x'])).toBe('unknown');
    expect(outcomeOfError(ApplicationFailure.nonRetryable('no'))).toBe('failed');
    expect(outcomeOfError(new CancelledFailure('cancelled'))).toBe('cancelled');
    // Not outcomes: the run continues as new, or the workflow task fails and is retried.
    expect(outcomeOfError(new ContinueAsNew({ workflowType: 'w', arguments: [], headers: {}, taskQueue: 'q' } as never))).toBeUndefined();
    expect(outcomeOfError(new Error('bug'))).toBeUndefined();
  });
});

describe('a worker process with the resource tuner', () => {
  let stack: TestStack;
  let ok: Receiver;
  let rejecting: Receiver;
  let worker: ChildProcess;
  let metricsUrl: string;
  let scraped: Sample[] = [];

  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    stack = await startTestStack('jobmetrics', { env: { JOBPLANE_WORKER_METRICS_ADDRESS: `127.0.0.1:${port}`, JOBPLANE_WORKER_TUNER: 'resource' } });
    ok = await startReceiver(() => ({ status: 200 }));
    rejecting = await startReceiver(() => ({ status: 400 }));
    worker = await stack.spawnWorkerProcess();

    const create = async (url: string, n: number) => (await createJob(stack, { type: 'webhook.deliver', input: { url, payload: { n } } })).id;
    const ids = [await create(ok.url, 1), await create(ok.url, 2), await create(rejecting.url, 3)];
    const statuses = [];
    for (const id of ids) statuses.push((await waitForJob(stack, id)).status);
    expect(statuses).toEqual(['succeeded', 'succeeded', 'failed']);
    // The worker records as the workflow ends; give the exporter a moment to show all three.
    await waitAtMost(
      async () => {
        scraped = samples(await fetch(metricsUrl).then((r) => r.text()));
        return total(scraped, jobMetricSeries.durationCount, { tenant: stack.tenantId }) >= 3;
      },
      { timeout: 10_000, interval: 200 },
    );
  }, 180_000);
  afterAll(async () => {
    worker?.kill('SIGKILL');
    await ok?.close();
    await rejecting?.close();
    await stack?.close();
  });

  it('polls and completes jobs (the resource-based tuner hands out slots)', () => {
    expect(worker.exitCode).toBeNull();
    expect(ok.requests).toHaveLength(2);
    expect(rejecting.requests).toHaveLength(1);
  });

  it('counts finished jobs by job type, tenant and status', () => {
    const finished = scraped.filter((s) => s.name === jobMetricSeries.finished);
    expect(finished.length, 'no jobplane_jobs_finished series scraped').toBeGreaterThan(0);
    for (const s of finished) expect(Object.keys(s.labels)).toEqual(expect.arrayContaining(['job_type', 'tenant', 'status']));
    const by = (status: string) => total(scraped, jobMetricSeries.finished, { job_type: 'webhook.deliver', tenant: stack.tenantId, status });
    expect(by('succeeded')).toBe(2);
    expect(by('failed')).toBe(1);
    expect(by('cancelled')).toBe(0);
  });

  it('records each job duration in milliseconds for the tenant', () => {
    expect(total(scraped, jobMetricSeries.durationCount, { job_type: 'webhook.deliver', tenant: stack.tenantId })).toBe(3);
    const sum = total(scraped, jobMetricSeries.durationSum, { tenant: stack.tenantId });
    expect(sum).toBeGreaterThanOrEqual(0);
    expect(sum).toBeLessThan(3 * 60_000);
    expect(scraped.some((s) => s.name === jobMetricSeries.durationBucket && s.labels.tenant === stack.tenantId)).toBe(true);
  });
});

describe('infra/observability', () => {
  const dashboard = JSON.parse(readFileSync(path.join(repoRoot, 'infra/observability/grafana-dashboard.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[] };
  const rules = parseYaml(readFileSync(path.join(repoRoot, 'infra/observability/prometheus-rules.yaml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };

  it('has the "Jobs finished by type/tenant/status" panel on the new counter', () => {
    const panel = dashboard.panels.find((p) => p.title === 'Jobs finished by type/tenant/status');
    expect(panel?.targets?.[0]?.expr).toMatch(/sum by \(job_type, tenant, status\) \(rate\(jobplane_jobs_finished\[/);
  });

  it('alerts on the failure ratio of the new counter, next to the per-workflow-type one', () => {
    const alerts = rules.groups.flatMap((g) => g.rules);
    const ratio = alerts.find((r) => r.expr.includes('jobplane_jobs_finished{status="failed"}'));
    expect(ratio?.expr).toMatch(/\/\s*sum by \(job_type, tenant\) \(rate\(jobplane_jobs_finished\[/);
    expect(alerts.map((r) => r.alert)).toContain('JobplaneJobFailureRateHigh');
  });
});
