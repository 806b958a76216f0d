/**
 * The chaos harness: Jobplane as it runs in production — the API and the
 * workers as their own (supervised, restarted) processes, Postgres of its
 * own, a production-shaped Temporal cluster on Postgres of its own — with
 * jobs of mixed types in flight while one fault at a time hits it. For each
 * fault it reports jobs accepted (2xx), completed, duplicated effects, lost,
 * and seconds to recover. Clients behave as real ones should: every create
 * carries an Idempotency-Key and is sent again after a 503, 429, 5xx or a
 * refused connection, honouring Retry-After.
 *
 * Effects are counted at a webhook receiver by idempotency key (the job id):
 * a delivery that arrives after the platform recorded that job's delivery as
 * succeeded is a duplicated effect; one that arrives again because a worker
 * died before it could record the answer is a redelivery (at-least-once over
 * HTTP; the key lets the receiver drop it) and is reported apart.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq, and } from 'drizzle-orm';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { createDb, type Db } from '../../db/client.ts';
import { runMigrations } from '../../db/migrate.ts';
import { tenants, webhookAttempts } from '../../db/schema/index.ts';
import { ensureDatabase } from '../../scripts/lib/dev-bootstrap.ts';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../scripts/lib/postgres.ts';
import { supervise, type Supervised } from '../../scripts/lib/temporal-cluster/supervisor.ts';
import { freePort } from '../../runtime/host-port.ts';
import { buildWorkflowBundle } from '../../workers/workflow-bundle.ts';
import { startOwnCluster, type OwnCluster } from '../helpers/cluster.ts';
import { startGrpcProxy, type GrpcProxy } from '../helpers/grpc-proxy.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { repoRoot, testCodecKeys, testSigningSecret } from '../helpers/stack.ts';

export interface ChaosResult {
  fault: string;
  submitted: number;
  accepted: number;
  completed: number;
  duplicateEffects: number;
  lost: number;
  recoverSeconds: number | null;
  /** Deliveries sent again before a success was recorded (the receiver dedupes them by key). */
  redeliveries: number;
  /** Answers other than 2xx, 409, 429 and 503 (e.g. a 500): each is a bug. */
  unexpectedResponses: number;
  /** Jobs not completed, with their last status, for the report. */
  lostJobs: string[];
}

export interface Fault {
  name: string;
  /** Receiver delay while this fault runs (keeps deliveries in flight). @default 50 */
  receiverDelayMs?: number;
  /** Applies the fault; resolves when it is applied (a restart fault: when the restart was begun or done). */
  inject(env: ChaosEnv): Promise<void>;
}

type JobKind = 'webhook.deliver' | 'noop' | 'approval.request';
const kinds: JobKind[] = ['webhook.deliver', 'noop', 'approval.request'];

interface SubmittedJob {
  key: string;
  kind: JobKind;
  id?: string;
  acceptedAt?: number;
}

export class ChaosEnv {
  private constructor(
    readonly own: OwnCluster,
    private jobplanePg: EmbeddedPostgresHandle,
    private readonly jobplanePgDir: string,
    private readonly jobplanePgPort: number,
    readonly db: { db: Db; close(): Promise<void> },
    readonly proxy: GrpcProxy,
    readonly api: Supervised,
    readonly workers: Supervised,
    readonly apiUrl: string,
    readonly receiver: Receiver,
    private readonly receiverDelay: { ms: number },
    readonly tenantId: string,
    private readonly key: string,
    private readonly root: string,
    /** Set by a fault: what the proxy does with the API's next StartWorkflowExecution. */
    readonly startHook: { next?: () => void },
  ) {}

  static async start(): Promise<ChaosEnv> {
    const root = mkdtempSync(path.join(tmpdir(), 'jobplane-chaos-'));
    const own = await startOwnCluster('chaos');
    const pgPort = await freePort();
    const pgDir = path.join(root, 'jobplane-postgres');
    const jobplanePg = await startEmbeddedPostgres(pgDir, pgPort);
    const databaseUrl = await ensureDatabase(jobplanePg.url, 'jobplane');
    await runMigrations(databaseUrl);
    const db = createDb(databaseUrl, { max: 4 });
    const tenant = await createTenant(db.db, `chaos-${randomBytes(3).toString('hex')}`);
    // The tenant's limits out of the way: the chaos run measures faults, not quotas.
    await db.db.update(tenants).set({ createRatePerSecond: 500, createBurst: 500 }).where(eq(tenants.id, tenant.id));
    const { key } = await createApiKey(db.db, tenant.id, { name: 'chaos', role: 'submitter' });

    const receiverDelay = { ms: 50 };
    const receiver = await startReceiver(() => ({ status: 200, delayMs: receiverDelay.ms }));
    const startHook: { next?: () => void } = {};
    // The API reaches Temporal through a proxy, so a fault can act at the exact moment of a workflow start.
    const proxy = await startGrpcProxy({
      upstream: own.cluster.address,
      hold: (method) => {
        if (method !== 'StartWorkflowExecution' || !startHook.next) return undefined;
        const act = startHook.next;
        startHook.next = undefined;
        act();
        // Held for good: the API is killed meanwhile, so the start never reaches the server.
        return new Promise<void>(() => {});
      },
    });
    const bundleFile = path.join(root, 'workflows.js');
    writeFileSync(bundleFile, (await buildWorkflowBundle()).code);
    const port = await freePort();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      JOBPLANE_TASK_QUEUE_PREFIX: 'chaos-',
      JOBPLANE_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      JOBPLANE_WEBHOOK_SIGNING_SECRET: testSigningSecret,
      JOBPLANE_CODEC_KEYS: testCodecKeys,
      JOBPLANE_WORKFLOW_BUNDLE: bundleFile,
      JOBPLANE_WORKER_METRICS_ADDRESS: '',
      JOBPLANE_API_METRICS_ADDRESS: '',
      JOBPLANE_WORKER_HEALTH_ADDRESS: '',
      JOBPLANE_WORKER_SHUTDOWN_GRACE_MS: '2000',
      JOBPLANE_LOG_LEVEL: 'warn',
      JOBPLANE_DB_POOL_MAX: '5',
      PORT: String(port),
    };
    const logDir = path.join(root, 'logs');
    const say = (line: string) => process.stderr.write(`[chaos] ${line}\n`);
    const tsx = ['--import', 'tsx'];
    const api = supervise({ name: 'api', command: process.execPath, args: [...tsx, path.join(repoRoot, 'api/main.ts')], env: { ...env, TEMPORAL_ADDRESS: proxy.address }, cwd: repoRoot, pidDir: root, logDir, log: say });
    const workers = supervise({ name: 'workers', command: process.execPath, args: [...tsx, path.join(repoRoot, 'workers/main.ts')], env: { ...env, TEMPORAL_ADDRESS: own.cluster.address }, cwd: repoRoot, pidDir: root, logDir, log: say });
    const chaos = new ChaosEnv(own, jobplanePg, pgDir, pgPort, db, proxy, api, workers, `http://127.0.0.1:${port}`, receiver, receiverDelay, tenant.id, key, root, startHook);
    await chaos.waitForApi(90_000);
    return chaos;
  }

  /** Stops and starts Jobplane's own Postgres on the same data, down for `downMs`. */
  async restartJobplanePostgres(downMs: number): Promise<void> {
    await this.jobplanePg.stop();
    await sleep(downMs);
    this.jobplanePg = await startEmbeddedPostgres(this.jobplanePgDir, this.jobplanePgPort);
  }

  /** The pid in a supervised process's pid file (a cluster service, `api` or `workers`). */
  pidOf(name: string): number {
    const file = ['api', 'workers'].includes(name) ? path.join(this.root, `${name}.pid`) : this.own.cluster.pidFile(name as 'history');
    return Number(readFileSync(file, 'utf8'));
  }

  setReceiverDelay(ms: number): void {
    this.receiverDelay.ms = ms;
  }

  async waitForApi(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await fetch(`${this.apiUrl}/readyz`).then((r) => r.ok, () => false)) return;
      await sleep(250);
    }
    throw new Error(`the chaos API is not ready after ${timeoutMs} ms (logs in ${this.root}/logs)`);
  }

  private request(method: string, pathname: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${this.apiUrl}${pathname}`, {
      method,
      headers: { authorization: `Bearer ${this.key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
  }

  /**
   * Sends a request until it gets an answer a client acts on, as a real
   * client would: again after 429, 503, other 5xx and network errors.
   */
  private async untilAnswered(
    method: string,
    pathname: string,
    body: unknown,
    deadline: number,
    counters: { unexpected: number },
    headers: Record<string, string> = {},
  ): Promise<Response | undefined> {
    for (;;) {
      let res: Response | undefined;
      try {
        res = await this.request(method, pathname, body, headers);
      } catch {
        res = undefined; // refused or cut: the API is restarting
      }
      if (res && res.status < 500 && res.status !== 429) return res;
      if (res && res.status >= 500 && res.status !== 503) counters.unexpected++;
      if (Date.now() > deadline) return res;
      const retryAfter = Number(res?.headers.get('retry-after') ?? 0);
      await res?.body?.cancel();
      await sleep(retryAfter > 0 ? Math.min(retryAfter * 1000, 2000) : 300);
    }
  }

  private inputOf(kind: JobKind, key: string) {
    if (kind === 'webhook.deliver') return { url: this.receiver.url, payload: { key } };
    if (kind === 'noop') return { sleepMs: 300 };
    return { subject: `chaos ${key}`, approvers: ['chaos@example.com'] };
  }

  /** One fault: jobs in flight, the fault, recovery, and the count. */
  async run(fault: Fault, size: number): Promise<ChaosResult> {
    this.setReceiverDelay(fault.receiverDelayMs ?? 50);
    const phase = fault.name.replace(/\W+/g, '-').toLowerCase();
    const jobs: SubmittedJob[] = Array.from({ length: size }, (_, i) => ({ key: `${phase}-${i}-${randomBytes(3).toString('hex')}`, kind: kinds[i % kinds.length]! }));
    const counters = { unexpected: 0 };
    const submitDeadline = Date.now() + 90_000;
    let next = 0;
    let injectedAt = 0;
    let recoveredAt: number | null = null;
    const injectAfter = Math.max(1, Math.floor(size / 3));

    const createOne = async (job: SubmittedJob) => {
      const res = await this.createWithKey(job, submitDeadline, counters);
      if (!res || (res.status !== 200 && res.status !== 201)) return;
      const view = (await res.json()) as { id: string };
      job.id = view.id;
      job.acceptedAt = Date.now();
      if (job.kind === 'approval.request') await this.approve(view.id, submitDeadline, counters);
    };
    const submitter = async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        if (next === injectAfter + 1 && !injectedAt) {
          injectedAt = Date.now();
          await fault.inject(this);
        }
        await createOne(job);
      }
    };
    const probe = async () => {
      while (!injectedAt) await sleep(50);
      for (let n = 0; recoveredAt === null && Date.now() < submitDeadline + 60_000; n++) {
        const job: SubmittedJob = { key: `${phase}-probe-${n}-${randomBytes(3).toString('hex')}`, kind: 'noop' };
        const res = await this.createWithKey(job, Date.now(), { unexpected: 0 }).catch(() => undefined);
        if (res && (res.status === 201 || res.status === 200)) {
          const { id } = (await res.json()) as { id: string };
          if ((await this.waitForTerminal(id, Date.now() + 60_000)) === 'succeeded') recoveredAt = Date.now();
        } else {
          await sleep(500);
        }
      }
    };
    await Promise.all([submitter(), submitter(), submitter(), submitter(), probe()]);

    const accepted = jobs.filter((j) => j.id);
    const settleDeadline = Date.now() + 120_000;
    const statuses = await Promise.all(accepted.map(async (j) => ({ job: j, status: await this.waitForTerminal(j.id!, settleDeadline) })));
    const completed = statuses.filter((s) => s.status === 'succeeded');
    const lostJobs = statuses.filter((s) => s.status !== 'succeeded').map((s) => `${s.job.kind} ${s.job.id}: ${s.status}`);
    const { duplicates, redeliveries } = await this.countEffects(accepted.filter((j) => j.kind === 'webhook.deliver'));
    return {
      fault: fault.name,
      submitted: jobs.length,
      accepted: accepted.length,
      completed: completed.length,
      duplicateEffects: duplicates,
      lost: lostJobs.length,
      recoverSeconds: recoveredAt === null ? null : Math.round((recoveredAt - injectedAt) / 100) / 10,
      redeliveries,
      unexpectedResponses: counters.unexpected,
      lostJobs,
    };
  }

  private createWithKey(job: SubmittedJob, deadline: number, counters: { unexpected: number }): Promise<Response | undefined> {
    return this.untilAnswered('POST', '/v1/jobs', { type: job.kind, input: this.inputOf(job.kind, job.key) }, deadline, counters, { 'idempotency-key': job.key });
  }

  private async approve(jobId: string, deadline: number, counters: { unexpected: number }): Promise<void> {
    const res = await this.untilAnswered('POST', `/v1/jobs/${jobId}/updates/approve`, { by: 'chaos@example.com' }, deadline, counters);
    await res?.body?.cancel();
  }

  /** Polls the job until it is finished; its last status (or `unknown` if the API never answered). */
  private async waitForTerminal(jobId: string, deadline: number): Promise<string> {
    let last = 'unknown';
    while (Date.now() < deadline) {
      try {
        const res = await this.request('GET', `/v1/jobs/${jobId}`);
        if (res.ok) {
          last = ((await res.json()) as { status: string }).status;
          if (!['queued', 'running'].includes(last)) return last;
        } else {
          await res.body?.cancel();
        }
      } catch {
        // API restarting
      }
      await sleep(300);
    }
    return last;
  }

  /** Deliveries per job key at the receiver, against the moment the platform recorded each delivery's success. */
  private async countEffects(webhookJobs: SubmittedJob[]): Promise<{ duplicates: number; redeliveries: number }> {
    let duplicates = 0;
    let redeliveries = 0;
    for (const job of webhookJobs) {
      const deliveries = this.receiver.requests.filter((r) => r.headers['idempotency-key'] === job.id).map((r) => r.at);
      const [success] = await this.db.db
        .select({ finishedAt: webhookAttempts.finishedAt })
        .from(webhookAttempts)
        .where(and(eq(webhookAttempts.jobId, job.id!), eq(webhookAttempts.status, 'succeeded')));
      const recordedAt = success?.finishedAt?.getTime();
      const afterSuccess = recordedAt === undefined ? 0 : deliveries.filter((at) => at > recordedAt).length;
      duplicates += afterSuccess;
      redeliveries += Math.max(0, deliveries.length - 1 - afterSuccess);
    }
    return { duplicates, redeliveries };
  }

  async close(): Promise<void> {
    await this.api.stop(5000).catch(() => {});
    await this.workers.stop(5000).catch(() => {});
    await this.proxy.close().catch(() => {});
    await this.receiver.close().catch(() => {});
    await this.db.close().catch(() => {});
    await this.jobplanePg.stop().catch(() => {});
    await this.own.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The faults, one at a time, in the order the report lists them. */
export const faults: Fault[] = [
  { name: 'kill -9 history', inject: async (env) => void process.kill(env.pidOf('history'), 'SIGKILL') },
  { name: 'kill -9 matching', inject: async (env) => void process.kill(env.pidOf('matching'), 'SIGKILL') },
  { name: 'kill -9 frontend', inject: async (env) => void process.kill(env.pidOf('frontend'), 'SIGKILL') },
  { name: 'whole cluster restarted', inject: async (env) => await env.own.restart() },
  { name: 'Temporal’s Postgres restarted', inject: async (env) => await env.own.restartPostgres(2000) },
  { name: 'Jobplane’s Postgres restarted', receiverDelayMs: 300, inject: async (env) => await env.restartJobplanePostgres(2000) },
  {
    name: 'API killed between insert and start',
    inject: async (env) => {
      // The next workflow start the API sends is held at the proxy; the API dies with it in hand.
      await new Promise<void>((resolve) => {
        env.startHook.next = () => {
          process.kill(env.pidOf('api'), 'SIGKILL');
          resolve();
        };
      });
    },
  },
  {
    name: 'worker killed mid-activity',
    receiverDelayMs: 1500,
    inject: async (env) => {
      const before = env.receiver.requests.length;
      const deadline = Date.now() + 20_000;
      // Wait until a delivery is in flight at the receiver, then kill the worker holding it.
      while (env.receiver.requests.length === before && Date.now() < deadline) await sleep(50);
      process.kill(env.pidOf('workers'), 'SIGKILL');
    },
  },
];

/** The report: one row per fault. */
export function formatChaosTable(results: ChaosResult[]): string {
  const header = ['fault', 'accepted', 'completed', 'duplicate effects', 'lost', 'recover s', 'redeliveries', 'unexpected 5xx'];
  const rows = results.map((r) => [
    r.fault,
    `${r.accepted}/${r.submitted}`,
    String(r.completed),
    String(r.duplicateEffects),
    String(r.lost),
    r.recoverSeconds === null ? 'never' : r.recoverSeconds.toFixed(1),
    String(r.redeliveries),
    String(r.unexpectedResponses),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
