/**
 * The runbook cannot rot: every command block of docs/RUNBOOK.md marked
 * `<!-- cmd:<id> -->` runs here, in bash, against a real dev server and
 * Postgres, with a job in the state its section describes, and must exit 0.
 * The runbook's shell variables ($JOB_ID, $WORKFLOW_ID, $TEMPORAL_ADDRESS,
 * $JOBPLANE_API_URL, $JOBPLANE_API_KEY, $DATABASE_URL, …) are set the way its
 * "Before you start" section says; `temporal` is the real CLI, `npm run ops --`
 * runs scripts/ops.ts with node, `psql` the real client. tctl blocks run only
 * when a tctl binary is found (TCTL_CLI), and are skipped with the reason
 * otherwise. A new marked block needs a state below, or this test fails; blocks
 * that change something are also checked for that change (new run, terminated,
 * retry created, batch applied).
 *
 * States come from a buggy worker (test/fixtures/buggy-workflows.ts) on the
 * webhooks queue: deliveries to an accepting receiver get stuck in a failing
 * workflow task, deliveries to a refusing one keep retrying their activity;
 * approval jobs wait on a queue nobody polls (workers down).
 */
// Before anything that loads test/helpers/stack.ts: the failures here are deliberate.
import '../fixtures/quiet-runtime.ts';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { eq, inArray } from 'drizzle-orm';
import postgres from 'postgres';
import { ensureOutboxTable } from '../../client/outbox/index.ts';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { documents, jobs } from '../../db/schema/index.ts';
import { ensureTool } from '../../scripts/lib/cli-tools.ts';
import { startBuggyWorker, type BuggyWorker } from '../fixtures/buggy-worker.ts';
import { startDocumentWorkers } from '../fixtures/document-workers.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { repoRoot, startTestStack, type TestStack } from '../helpers/stack.ts';
import type { JobDiagnosis, StuckList } from '../../client/jobplane-client.ts';
import { createJob } from '../helpers/http.ts';
import { waitAtMost } from '../helpers/poll.ts';

const exec = promisify(execFile);
const runbookPath = path.join(repoRoot, 'docs/RUNBOOK.md');

interface Block {
  id: string;
  code: string;
  line: number;
}

/** Marked blocks: `<!-- cmd:id -->` on the line right before a ```sh fence. */
function markedBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  for (const m of markdown.matchAll(/<!--\s*cmd:([\w-]+)\s*-->\s*\n```(?:sh|bash)\n([\s\S]*?)```/g)) {
    blocks.push({ id: m[1]!, code: m[2]!, line: markdown.slice(0, m.index).split('\n').length });
  }
  return blocks;
}

/** Every ```sh block; unmarked ones may only set variables or talk to Kubernetes. */
function unmarkedBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/(<!--\s*cmd:[\w-]+\s*-->\s*\n)?```(?:sh|bash)\n([\s\S]*?)```/g)].filter((m) => !m[1]).map((m) => m[2]!);
}

const markdown = readFileSync(runbookPath, 'utf8');
const blocks = markedBlocks(markdown);

type State =
  | 'none' // tenant-wide views
  | 'task-failing' // a job whose workflow task keeps failing (bad deploy)
  | 'activity-retrying' // a job whose delivery keeps failing
  | 'finished' // a terminated job
  | 'workers-down' // a job queued on a task queue nobody polls
  | 'batch-tenant' // a second tenant with stuck jobs only, for batch resets
  | 'batch' // a finished batch of that tenant
  | 'document-failed'; // a document whose ingestion failed for good (an unreadable PDF)

const stateOf: Record<string, State> = {
  'check-access': 'none',
  stuck: 'none',
  'list-running': 'none',
  'tctl-list-running': 'none',
  describe: 'task-failing',
  'show-history': 'task-failing',
  'tctl-describe': 'task-failing',
  'activity-attempts': 'activity-retrying',
  terminate: 'activity-retrying',
  retry: 'finished',
  'reset-last': 'task-failing',
  'reset-last-temporal': 'task-failing',
  'tctl-reset-last': 'task-failing',
  'reset-first': 'task-failing',
  'reset-event': 'task-failing',
  'reset-batch': 'batch-tenant',
  'batch-status': 'batch',
  'reset-batch-temporal': 'batch-tenant',
  'after-reset': 'batch-tenant',
  'workers-down': 'workers-down',
  'postgres-check': 'none',
  'temporal-health': 'none',
  'postgres-after': 'none',
  'poison-diagnose': 'activity-retrying',
  'poison-terminate': 'activity-retrying',
  'poison-terminate-temporal': 'activity-retrying',
  'tctl-poison-terminate': 'activity-retrying',
  audit: 'none',
  'scope-refusals': 'none',
  'job-events-watcher': 'none',
  'outbox-rows': 'none',
  failures: 'none',
  'bulk-retry-dry-run': 'none',
  'document-diagnose': 'document-failed',
  'document-derived-rows': 'document-failed',
  'document-retry': 'document-failed',
};

const needsTctl = (b: Block) => /^\s*tctl\b/m.test(b.code);
const tctl = await ensureTool('tctl', { quiet: true }).then(
  (p) => ({ path: p, reason: '' }),
  (err: Error) => ({ path: undefined, reason: err.message.split('\n')[0]! }),
);

let stack: TestStack;
let receiver: Receiver;
let buggy: BuggyWorker;
let stopDocumentWorkers: (() => Promise<void>) | undefined;
/** Per block: the variables its commands use. */
const envOf = new Map<string, Record<string, string>>();
const batchTenant = { id: '', operator: '', submitter: '' };
const batchJobIds: string[] = [];

/** Job id → the run it started with, to tell afterwards what a block changed. */
const firstRun = new Map<string, string>();

async function submit(key: string, body: unknown): Promise<string> {
  const job = await createJob(stack, body, { key });
  firstRun.set(job.id, job.runId);
  return job.id;
}

const describeRun = (env: Record<string, string>) => stack.client.workflow.getHandle(env.WORKFLOW_ID!).describe();

/** What a block must have done besides exiting 0, for the blocks that change something. */
const effects: Record<string, (env: Record<string, string>) => Promise<void>> = {
  reset: async (env) => expect((await describeRun(env)).runId).not.toBe(firstRun.get(env.JOB_ID!)),
  terminate: async (env) => expect((await describeRun(env)).status.name).toBe('TERMINATED'),
  retry: async (env) => {
    const [row] = await stack.db.select().from(jobs).where(eq(jobs.retryOf, env.JOB_ID!));
    expect(row?.type).toBe('webhook.deliver');
  },
  'document-retry': async (env) => {
    const [row] = await stack.db.select().from(jobs).where(eq(jobs.retryOf, env.JOB_ID!));
    expect(row?.type).toBe('document.ingest');
  },
  batch: async (env) => {
    for (const id of batchJobIds) expect((await stack.client.workflow.getHandle(`${env.TENANT_ID}:${id}`).describe()).runId).not.toBe(firstRun.get(id));
  },
};
const effectOf: Record<string, keyof typeof effects> = {
  'reset-last': 'reset',
  'reset-last-temporal': 'reset',
  'tctl-reset-last': 'reset',
  'reset-first': 'reset',
  'reset-event': 'reset',
  terminate: 'terminate',
  'poison-terminate': 'terminate',
  'poison-terminate-temporal': 'terminate',
  'tctl-poison-terminate': 'terminate',
  retry: 'retry',
  'reset-batch': 'batch',
  'document-retry': 'document-retry',
};

const delivery = (mode: 'ok' | 'refuse') => ({ type: 'webhook.deliver', input: { url: receiver.url, payload: { mode } } });

async function stuckOf(key: string): Promise<StuckList> {
  const res = await fetch(`${stack.apiUrl}/v1/ops/stuck?minAttempts=2`, { headers: { authorization: `Bearer ${key}` } });
  return (await res.json()) as StuckList;
}

async function waitUntilStuck(key: string, ids: string[]): Promise<JobDiagnosis[]> {
  return await vi.waitFor(
    async () => {
      const items = (await stuckOf(key)).items.filter((d) => d.jobId && ids.includes(d.jobId));
      if (!(items.length === ids.length && items.every((d) => d.reason))) throw new Error(`not stuck yet: ${JSON.stringify(items)}`);
      return items;
    },
    { timeout: 30_000, interval: 250 },
  );
}

/** The server runs one batch at a time per namespace: let any batch a block started finish. */
async function waitForBatches(): Promise<void> {
  await waitAtMost(
    async () => {
      const res = await stack.client.workflowService.listBatchOperations({ namespace: stack.config.temporalNamespace, pageSize: 100 });
      return !(res.operationInfo ?? []).some((o) => o.state === 1 /* BATCH_OPERATION_STATE_RUNNING */);
    },
    { timeout: 60_000, interval: 250 },
  );
}

/** Documents of the `document-failed` blocks. */
const failedDocuments: string[] = [];

async function waitUntilDocumentsFailed(ids: string[]): Promise<void> {
  await vi.waitFor(
    async () => {
      const rows = await stack.db.select({ status: documents.status }).from(documents).where(inArray(documents.id, ids));
      if (!(rows.length === ids.length && rows.every((r) => r.status === 'failed'))) throw new Error(`documents not failed yet: ${JSON.stringify(rows)}`);
    },
    { timeout: 60_000, interval: 250 },
  );
}

beforeAll(async () => {
  stack = await startTestStack('ops-runbook');
  // Only the documents queue gets real workers: the other queues' states need the buggy worker or none.
  const documentWorkers = await startDocumentWorkers(stack);
  stopDocumentWorkers = documentWorkers;
  receiver = await startReceiver((_n, req) => (req.body.includes('"refuse"') ? { status: 503 } : { status: 200 }));
  buggy = await startBuggyWorker(stack);
  const t = await createTenant(stack.db, 'runbook batch tenant');
  batchTenant.id = t.id;
  batchTenant.operator = (await createApiKey(stack.db, t.id, { name: 'batch operator', role: 'operator' })).key;
  batchTenant.submitter = (await createApiKey(stack.db, t.id, { name: 'batch submitter', role: 'submitter' })).key;

  // Section 10's queries read a product service's outbox: here the stack's own database holds one.
  const serviceDb = postgres(stack.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  await ensureOutboxTable(serviceDb);
  await serviceDb.end();

  const prefix = stack.env.JOBPLANE_TASK_QUEUE_PREFIX!;
  const common = {
    OUTBOX_DATABASE_URL: stack.env.DATABASE_URL!,
    TEMPORAL_ADDRESS: stack.temporal.address,
    TEMPORAL_NAMESPACE: stack.config.temporalNamespace,
    JOBPLANE_API_URL: stack.apiUrl,
    JOBPLANE_API_KEY: stack.keys.operator,
    DATABASE_URL: stack.env.DATABASE_URL!,
    TENANT_ID: stack.tenantId,
    TASK_QUEUE: `${prefix}webhooks`,
  };
  const forJob = (jobId: string, tenantId = stack.tenantId) => ({ ...common, TENANT_ID: tenantId, JOB_ID: jobId, WORKFLOW_ID: `${tenantId}:${jobId}` });

  // One job per block that needs one: a block may change its job (reset, terminate).
  const taskFailing: string[] = [];
  const retrying: string[] = [];
  const batchJobs = batchJobIds;
  await Promise.all(
    blocks.map(async (b) => {
      const state = stateOf[b.id];
      if (state === 'task-failing') {
        const id = await submit(stack.keys.submitter, delivery('ok'));
        taskFailing.push(id);
        envOf.set(b.id, forJob(id));
      } else if (state === 'activity-retrying' || state === 'finished') {
        const id = await submit(stack.keys.submitter, delivery('refuse'));
        retrying.push(id);
        envOf.set(b.id, forJob(id));
      } else if (state === 'document-failed') {
        const form = new FormData();
        // Different bytes per block (same bytes would be one deduplicated document).
        form.set('file', new Blob([`%PDF-1.7\nnot really a PDF (${b.id})\n%%EOF`], { type: 'application/pdf' }), `broken-${b.id}.pdf`);
        const res = await fetch(`${stack.apiUrl}/v1/documents`, { method: 'POST', headers: { authorization: `Bearer ${stack.keys.submitter}` }, body: form });
        expect(res.status).toBe(202);
        const doc = (await res.json()) as { id: string; jobId: string };
        failedDocuments.push(doc.id);
        envOf.set(b.id, { ...forJob(doc.jobId), DOCUMENT_ID: doc.id });
      } else if (state === 'workers-down') {
        const id = await submit(stack.keys.submitter, { type: 'approval.request', input: { subject: 'nobody polls this queue' } });
        envOf.set(b.id, { ...forJob(id), TASK_QUEUE: `${prefix}default` });
      }
    }),
  );
  for (let i = 0; i < 2; i++) batchJobs.push(await submit(batchTenant.submitter, delivery('ok')));
  await waitUntilDocumentsFailed(failedDocuments);
  await Promise.all([waitUntilStuck(stack.keys.operator, [...taskFailing, ...retrying]), waitUntilStuck(batchTenant.operator, batchJobs)]);

  for (const b of blocks.filter((x) => stateOf[x.id] === 'finished')) {
    const res = await fetch(`${stack.apiUrl}/v1/jobs/${envOf.get(b.id)!.JOB_ID}/terminate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.keys.operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'runbook fixture' }),
    });
    expect(res.status).toBe(202);
  }
  const [sample] = (await stuckOf(batchTenant.operator)).items;
  const batchEnv = { ...common, TENANT_ID: batchTenant.id, JOBPLANE_API_KEY: batchTenant.operator, BUILD_ID: sample!.buildIds[0]! };
  const started = await fetch(`${stack.apiUrl}/v1/ops/reset-batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${batchTenant.operator}`, 'content-type': 'application/json' },
    body: JSON.stringify({ buildId: 'no-such-build', reason: 'runbook fixture' }),
  });
  expect(started.status).toBe(202);
  const { batchJobId } = (await started.json()) as { batchJobId: string };
  await waitForBatches();
  for (const b of blocks) {
    if (stateOf[b.id] === 'none') envOf.set(b.id, common);
    if (stateOf[b.id] === 'batch-tenant') envOf.set(b.id, batchEnv);
    if (stateOf[b.id] === 'batch') envOf.set(b.id, { ...batchEnv, BATCH_JOB_ID: batchJobId });
  }
}, 120_000);
afterAll(async () => {
  await stopDocumentWorkers?.();
  await buggy?.stop();
  await receiver?.close();
  await stack?.close();
});

describe('docs/RUNBOOK.md', () => {
  it('has marked command blocks with unique ids, each with a state to run in', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(20);
    expect(new Set(blocks.map((b) => b.id)).size).toBe(blocks.length);
    expect(blocks.filter((b) => !stateOf[b.id]).map((b) => `${b.id} (line ${b.line})`)).toEqual([]);
    // Every command an engineer would paste is marked; unmarked blocks only set variables or drive Kubernetes.
    for (const code of unmarkedBlocks(markdown)) {
      for (const line of code.split('\n').filter((l) => l.trim())) expect(line).toMatch(/^(export |kubectl |#)/);
    }
  });

  for (const block of blocks) {
    const skip = needsTctl(block) && !tctl.path;
    (skip ? it.skip : it)(`cmd:${block.id} (line ${block.line}) exits 0${skip ? ` — skipped: ${tctl.reason} (set TCTL_CLI to a tctl binary)` : ''}`, async () => {
      const script = block.code.replace(/\bnpm run ops --(?= |$)/gm, `node --import tsx ${JSON.stringify(path.join(repoRoot, 'scripts/ops.ts'))}`);
      const bins = [path.dirname(inject('temporalCli')), ...(tctl.path ? [path.dirname(tctl.path)] : [])];
      const env = { ...process.env, ...envOf.get(block.id), PATH: [...bins, process.env.PATH].join(path.delimiter) };
      const result = await exec('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: repoRoot, env, timeout: 60_000 }).then(
        (r) => ({ code: 0, ...r }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
      );
      expect(result.code, `cmd:${block.id} failed\n--- script\n${script}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`).toBe(0);
      await waitForBatches();
      const effect = effectOf[block.id];
      if (effect) await effects[effect]!(envOf.get(block.id)!);
    });
  }
});
