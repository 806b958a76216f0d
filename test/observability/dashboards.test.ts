/**
 * The Grafana dashboard and the Prometheus alert rules only use metrics that
 * exist: a real worker process (SDK Prometheus exporter on) and the API run
 * real jobs — successes, a failed job and a failing workflow task — and every
 * metric name in a panel or an alert must appear in what their `/metrics`
 * endpoints serve afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { catalogTaskQueues } from '../../contracts/index.ts';
import { taskQueueName } from '../../runtime/temporal.ts';
import { freePort } from '../../runtime/host-port.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { repoRoot, startTestStack, waitForJob, type TestStack } from '../helpers/stack.ts';
import { createJob } from '../helpers/http.ts';
import { waitAtMost } from '../helpers/poll.ts';
import { fastWatcherEnv } from '../helpers/job-events.ts';

/**
 * Names seen when this test was written (SDK 1.24 worker + API, after the
 * jobs below). The test checks the files against a fresh scrape, not this
 * list; it is here so a reader knows what exists without running anything.
 */
export const seenMetricNames = [
  // API (prom-client, `/metrics`; plus jobplane_api_* Node.js defaults)
  'jobplane_http_requests_total',
  'jobplane_http_request_duration_seconds_bucket', 'jobplane_http_request_duration_seconds_count', 'jobplane_http_request_duration_seconds_sum',
  'jobplane_jobs_created_total',
  'jobplane_task_queue_backlog', 'jobplane_task_queue_backlog_age_seconds', 'jobplane_task_queue_recommended_replicas',
  // Worker (SDK Prometheus exporter; counters have no _total suffix, latencies are milliseconds)
  'temporal_activity_execution_failed', 'temporal_activity_task_received',
  'temporal_activity_execution_latency_bucket', 'temporal_activity_schedule_to_start_latency_bucket', 'temporal_activity_succeed_endtoend_latency_bucket',
  'temporal_long_request', 'temporal_long_request_latency_bucket', 'temporal_request', 'temporal_request_latency_bucket',
  'temporal_num_pollers', 'temporal_worker_start', 'temporal_worker_task_slots_available', 'temporal_worker_task_slots_used',
  'temporal_sticky_cache_hit', 'temporal_sticky_cache_size', 'temporal_sticky_cache_total_forced_eviction',
  'temporal_workflow_completed', 'temporal_workflow_failed', 'temporal_workflow_endtoend_latency_bucket',
  'temporal_workflow_task_execution_failed', 'temporal_workflow_task_execution_latency_bucket', 'temporal_workflow_task_queue_poll_succeed',
  'temporal_workflow_task_replay_latency_bucket', 'temporal_workflow_task_schedule_to_start_latency_bucket',
  // Worker, recorded by the bundle's job metrics interceptor (workflow metricMeter: no temporal_ prefix, no _total;
  // tags job_type, tenant, status plus the SDK's namespace, taskQueue, workflowType)
  'jobplane_jobs_finished',
  'jobplane_job_duration_bucket', 'jobplane_job_duration_count', 'jobplane_job_duration_sum',
  // Worker, the job-end watcher's usage counters (runtime meter: no temporal_ prefix, no _total; tags tenant, job_type)
  'jobplane_usage_runs', 'jobplane_usage_actions', 'jobplane_usage_history_bytes', 'jobplane_usage_activity_cpu_ms', 'jobplane_usage_activity_wall_ms',
] as const;

let stack: TestStack;
let ok: Receiver;
let rejecting: Receiver;
let worker: ChildProcess;
let workerMetricsUrl: string;
const scraped = new Set<string>();
const scrapedLabels = new Set<string>();
let workerText = '';

/** Series names of a Prometheus text exposition (`foo_bucket`, `foo_sum`, `foo_count` included). */
function seriesNames(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(l)?.[1])
    .filter((n): n is string => !!n);
}

function labelNames(text: string): string[] {
  return [...text.matchAll(/[{,]([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map((m) => m[1]!);
}

const promqlKeywords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/** Metric names a PromQL expression reads: identifiers that are not functions, keywords, label names or literals. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/(^|[^a-zA-Z0-9_:])\d+(\.\d+)?(e[+-]?\d+)?/gi, '$1 ');
  return [...bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)].filter((m) => !m[2] && !promqlKeywords.has(m[1]!.toLowerCase())).map((m) => m[1]!);
}

/** Label names an expression groups by. */
function groupingLabels(expr: string): string[] {
  return [...expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim()).filter(Boolean));
}

beforeAll(async () => {
  stack = await startTestStack('dashboards');
  ok = await startReceiver(() => ({ status: 200 }));
  rejecting = await startReceiver(() => ({ status: 400 }));
  const port = await freePort();
  workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  worker = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'workers/main.ts')], {
    cwd: repoRoot,
    // The job-end watcher ticks fast, so the usage of the jobs below is counted before the scrape.
    env: { ...process.env, ...stack.env, ...fastWatcherEnv, JOBPLANE_WORKER_METRICS_ADDRESS: `127.0.0.1:${port}`, JOBPLANE_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  let exited = false;
  await vi.waitFor(
    async () => {
      if (await fetch(workerMetricsUrl).then((r) => r.ok, () => false)) return;
      if (worker.exitCode !== null) {
        exited = true;
        return;
      }
      throw new Error('worker metrics endpoint never answered');
    },
    { timeout: 60_000, interval: 100 },
  );
  if (exited) throw new Error('worker metrics endpoint never answered');

  // Real jobs: three successes and one rejected delivery (the job fails).
  const create = async (url: string, n: number) => (await createJob(stack, { type: 'webhook.deliver', input: { url, payload: { n } } })).id;
  const ids = [await create(ok.url, 1), await create(ok.url, 2), await create(ok.url, 3), await create(rejecting.url, 4)];
  for (const id of ids) await waitForJob(stack, id);
  // A workflow type the bundle does not export: its workflow tasks fail (what the failing-task alert watches).
  const broken = await stack.client.workflow.start('noSuchWorkflow', { taskQueue: taskQueueName(stack.config, catalogTaskQueues[0]!), workflowId: `broken-${Date.now()}`, args: [] });
  const apiNames = () => fetch(stack.metricsUrl).then((r) => r.text()).then(seriesNames);
  const workerNames = () => fetch(workerMetricsUrl).then((r) => r.text()).then(seriesNames);
  const apiText = await fetch(stack.metricsUrl).then((r) => r.text());
  await waitAtMost(
    async () => {
      const names = new Set(await workerNames());
      const failedTask = names.has('temporal_workflow_task_execution_failed') || names.has('temporal_workflow_task_execution_failed_total');
      return failedTask && names.has('jobplane_usage_activity_wall_ms');
    },
    { timeout: 20_000, interval: 200 },
  );
  await broken.terminate('test done').catch(() => {});
  workerText = await fetch(workerMetricsUrl).then((r) => r.text());
  for (const n of [...(await apiNames()), ...seriesNames(workerText)]) scraped.add(n);
  for (const l of [...labelNames(apiText), ...labelNames(workerText)]) scrapedLabels.add(l);
}, 180_000);
afterAll(async () => {
  worker?.kill('SIGKILL');
  await ok?.close();
  await rejecting?.close();
  await stack?.close();
});

const dashboard = JSON.parse(readFileSync(path.join(repoRoot, 'infra/observability/grafana-dashboard.json'), 'utf8')) as {
  title: string;
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
};
const rules = parseYaml(readFileSync(path.join(repoRoot, 'infra/observability/prometheus-rules.yaml'), 'utf8')) as {
  groups: { name: string; rules: { alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[] }[];
};
const panelExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
const alerts = rules.groups.flatMap((g) => g.rules);
const alertExprs = alerts.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }));

describe('the scrape', () => {
  it('has the metrics of both processes, after real jobs (including a failed job and a failing workflow task)', () => {
    for (const name of ['jobplane_http_requests_total', 'jobplane_jobs_created_total', 'jobplane_task_queue_backlog', 'temporal_activity_schedule_to_start_latency_bucket', 'temporal_workflow_failed', 'temporal_workflow_task_execution_failed', 'temporal_worker_task_slots_available']) {
      expect(scraped, name).toContain(name);
    }
  });

  it('serves SDK latencies in milliseconds (the unit the 200 ms thresholds assume)', () => {
    const les = [...workerText.matchAll(/^temporal_activity_schedule_to_start_latency_bucket\{[^}]*le="([^"]+)"/gm)].map((m) => Number(m[1])).filter(Number.isFinite);
    expect(Math.max(...les)).toBeGreaterThanOrEqual(1000);
  });
});

describe('grafana-dashboard.json', () => {
  it('is a dashboard with the panels the issue asks for', () => {
    expect(dashboard.title).toBe('Jobplane');
    const used = new Set(panelExprs.flatMap((e) => metricNames(e.expr)));
    for (const name of [
      'jobplane_task_queue_backlog',
      'jobplane_task_queue_backlog_age_seconds',
      'temporal_activity_schedule_to_start_latency_bucket',
      'temporal_workflow_task_schedule_to_start_latency_bucket',
      'temporal_worker_task_slots_available',
      'temporal_worker_task_slots_used',
      'temporal_sticky_cache_size',
      'jobplane_http_requests_total',
      'jobplane_http_request_duration_seconds_bucket',
      'jobplane_jobs_created_total',
      'jobplane_usage_actions',
      'jobplane_usage_activity_cpu_ms',
    ]) {
      expect(used, name).toContain(name);
    }
  });

  it('queries only metric names and labels a real worker and API serve', () => {
    expect(panelExprs.length).toBeGreaterThan(10);
    for (const { where, expr } of panelExprs) {
      const names = metricNames(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(scraped.has(name), `${where} uses ${name}, which no endpoint serves`).toBe(true);
      for (const name of names) expect(seenMetricNames as readonly string[], `${where}: add ${name} to seenMetricNames`).toContain(name);
      for (const label of groupingLabels(expr)) expect(label === 'le' || scrapedLabels.has(label), `${where} groups by ${label}`).toBe(true);
    }
  });
});

describe('prometheus-rules.yaml', () => {
  it('has every alert the issue asks for, each complete', () => {
    expect(alerts.length).toBeGreaterThanOrEqual(5);
    for (const r of alerts) {
      expect(r.alert, JSON.stringify(r)).toMatch(/^Jobplane\w+$/);
      expect(typeof r.expr).toBe('string');
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      expect(['warning', 'critical'], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
    const byMetric = (m: string) => alerts.filter((r) => metricNames(r.expr).includes(m));
    expect(byMetric('jobplane_task_queue_backlog_age_seconds')).not.toHaveLength(0);
    expect(byMetric('temporal_activity_schedule_to_start_latency_bucket').every((r) => /> 200\b/.test(r.expr))).toBe(true);
    expect(byMetric('temporal_activity_schedule_to_start_latency_bucket')).not.toHaveLength(0);
    expect(byMetric('temporal_workflow_task_schedule_to_start_latency_bucket')).not.toHaveLength(0);
    expect(byMetric('temporal_workflow_task_execution_failed')[0]?.expr).toMatch(/> 0\s*$/);
    expect(byMetric('temporal_workflow_failed')[0]?.expr).toMatch(/workflow_type/);
    const slots = byMetric('temporal_worker_task_slots_available')[0];
    expect(slots?.expr).toMatch(/== 0\s*$/);
    expect(slots?.for).toBe('5m');
  });

  it('references only metric names and labels a real worker and API serve', () => {
    for (const { where, expr } of alertExprs) {
      const names = metricNames(expr);
      expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) expect(scraped.has(name), `${where} uses ${name}, which no endpoint serves`).toBe(true);
      for (const label of groupingLabels(expr)) expect(label === 'le' || scrapedLabels.has(label), `${where} groups by ${label}`).toBe(true);
    }
  });

  it('the PromQL name extraction sees through functions, matchers and ranges', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, route) (rate(foo_bucket{status=~"5.."}[$__rate_interval]))) > 1e-9 and bar == 0')).toEqual(['foo_bucket', 'bar']);
  });
});
