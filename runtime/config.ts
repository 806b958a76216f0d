/**
 * The one configuration table. Every environment variable Jobplane reads is
 * declared here with its default and meaning; the README's table is checked
 * against this list by a test, so the two cannot drift.
 */
import { z } from 'zod';

interface Setting<T> {
  /** Environment variable name. */
  env: string;
  /** Default as it would be written in the environment; `undefined` = unset. */
  default: string | undefined;
  /** One line for the README. */
  description: string;
  /** An empty value is meaningful (e.g. "no prefix", "disabled") instead of meaning "use the default". */
  emptyIsValue?: boolean;
  schema: z.ZodType<T>;
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z.string().min(1).optional();

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

/** Ordered as the README lists them. */
export const settings = {
  port: setting({ env: 'PORT', default: '3000', description: 'HTTP port of the API', schema: port }),
  host: setting({
    env: 'JOBPLANE_API_HOST',
    default: '127.0.0.1',
    description: 'Interface the API binds to (`0.0.0.0` in containers)',
    schema: z.string().min(1),
  }),
  publicUrl: setting({
    env: 'JOBPLANE_PUBLIC_URL',
    default: undefined,
    description: 'Base URL of the API as users reach it, used in links (default `http://localhost:$PORT`)',
    schema: z.url().optional(),
  }),
  databaseUrl: setting({
    env: 'DATABASE_URL',
    default: undefined,
    description: 'Postgres URL. Unset: `npm start` runs embedded Postgres under the data dir',
    schema: optionalString,
  }),
  dataDir: setting({
    env: 'JOBPLANE_DATA_DIR',
    default: '.data',
    description: 'Where the dev stack keeps Temporal state, embedded Postgres, dev keys',
    schema: z.string().min(1),
  }),
  embeddedPostgresPort: setting({
    env: 'JOBPLANE_EMBEDDED_PG_PORT',
    default: '5499',
    description: 'Port of the embedded Postgres (dev and tests without DATABASE_URL)',
    schema: port,
  }),
  temporalAddress: setting({
    env: 'TEMPORAL_ADDRESS',
    default: '127.0.0.1:7233',
    description: 'Temporal frontend gRPC address',
    schema: z.string().min(1),
  }),
  temporalNamespace: setting({
    env: 'TEMPORAL_NAMESPACE',
    default: 'default',
    description: 'Temporal namespace for every job workflow',
    schema: z.string().min(1),
  }),
  temporalUiPort: setting({
    env: 'TEMPORAL_UI_PORT',
    default: '8233',
    description: 'Port of the dev server Web UI started by `npm start`',
    schema: port,
  }),
  temporalUiUrl: setting({
    env: 'JOBPLANE_TEMPORAL_UI_URL',
    default: undefined,
    description: 'Base URL of the Temporal Web UI used in links (default `http://localhost:$TEMPORAL_UI_PORT`)',
    schema: z.url().optional(),
  }),
  taskQueuePrefix: setting({
    env: 'JOBPLANE_TASK_QUEUE_PREFIX',
    emptyIsValue: true,
    default: '',
    description: 'Prefix for every task queue name (isolates tests and environments sharing a namespace)',
    schema: z.string(),
  }),
  webhookAllowedHosts: setting({
    env: 'JOBPLANE_WEBHOOK_ALLOWED_HOSTS',
    emptyIsValue: true,
    default: '',
    description: 'Comma-separated host names, IPs or CIDRs webhooks may reach despite the private-range block',
    schema: z.string(),
  }),
  webhookSigningSecret: setting({
    env: 'JOBPLANE_WEBHOOK_SIGNING_SECRET',
    default: undefined,
    description: 'HMAC-SHA256 key for webhook signatures (workers refuse to start without it; `npm start` generates one)',
    schema: z.string().min(16, 'must be at least 16 characters').optional(),
  }),
  webhookTimeoutMs: setting({
    env: 'JOBPLANE_WEBHOOK_TIMEOUT_MS',
    default: '10000',
    description: 'Timeout of one webhook HTTP attempt',
    schema: positiveInt,
  }),
  codecKeys: setting({
    env: 'JOBPLANE_CODEC_KEYS',
    default: undefined,
    description: 'Payload encryption master keys `id:base64(32 bytes)`, comma-separated (old keys keep decrypting); API and workers refuse to start without (`npm start` generates `<data dir>/codec-keys`)',
    schema: optionalString,
  }),
  codecCurrentKey: setting({
    env: 'JOBPLANE_CODEC_CURRENT_KEY',
    default: undefined,
    description: 'Id of the key that encrypts new payloads (default: the last in JOBPLANE_CODEC_KEYS)',
    schema: optionalString,
  }),
  platformKey: setting({
    env: 'JOBPLANE_PLATFORM_KEY',
    default: undefined,
    description: 'Platform key that manages tenants (`npm start` generates one into `<data dir>/platform-key`); unset: tenant routes answer 401',
    schema: z.string().min(32, 'must be at least 32 characters').optional(),
  }),
  createRatePerSecond: setting({
    env: 'JOBPLANE_CREATE_RATE_PER_SECOND',
    default: '50',
    description: 'Default per-tenant job-create rate (token bucket refill per second, shared by all API processes)',
    schema: z.coerce.number().positive(),
  }),
  createBurst: setting({
    env: 'JOBPLANE_CREATE_BURST',
    default: '100',
    description: 'Default per-tenant burst of job creates (token bucket size)',
    schema: positiveInt,
  }),
  maxRunningJobs: setting({
    env: 'JOBPLANE_MAX_RUNNING_JOBS',
    default: '1000',
    description: 'Default per-tenant cap on jobs running at once (creates beyond it answer 429)',
    schema: positiveInt,
  }),
  bodyLimitBytes: setting({
    env: 'JOBPLANE_BODY_LIMIT_BYTES',
    default: '1048576',
    description: 'Largest request body the API accepts (413 above)',
    schema: positiveInt,
  }),
  workerTaskQueues: setting({
    env: 'JOBPLANE_WORKER_TASK_QUEUES',
    default: '',
    emptyIsValue: true,
    description: 'Comma-separated task queues (without prefix) this worker process polls; empty: every queue of the job catalog',
    schema: z.string().regex(/^[a-z0-9_.,-]*$/, 'comma-separated queue names'),
  }),
  scaleTargetQueueSize: setting({
    env: 'JOBPLANE_SCALE_TARGET_QUEUE_SIZE',
    default: '5',
    description: 'Backlog per worker replica (KEDA `targetQueueSize`): replicas = ceil(backlog / this)',
    schema: positiveInt,
  }),
  scaleMinReplicas: setting({
    env: 'JOBPLANE_SCALE_MIN_REPLICAS',
    default: '1',
    description: 'Fewest worker replicas the scaling recommendation (and the local pool) goes to',
    schema: z.coerce.number().int().min(0),
  }),
  scaleMaxReplicas: setting({
    env: 'JOBPLANE_SCALE_MAX_REPLICAS',
    default: '10',
    description: 'Most worker replicas the scaling recommendation (and the local pool) goes to',
    schema: positiveInt,
  }),
  workerMaxConcurrentActivities: setting({
    env: 'JOBPLANE_WORKER_MAX_CONCURRENT_ACTIVITIES',
    default: '100',
    description: 'Activity slots per worker process (per task queue) with the `fixed` tuner',
    schema: positiveInt,
  }),
  workerTuner: setting({
    env: 'JOBPLANE_WORKER_TUNER',
    default: 'fixed',
    description: 'Slot tuner: `fixed` (JOBPLANE_WORKER_MAX_CONCURRENT_ACTIVITIES slots) or `resource` (the SDK resource-based tuner hands out slots while memory and CPU stay under the targets below)',
    schema: z.enum(['fixed', 'resource']),
  }),
  workerTargetMemory: setting({
    env: 'JOBPLANE_WORKER_TARGET_MEMORY',
    default: '0.8',
    description: '`resource` tuner only: target memory usage of the host, 0..1',
    schema: z.coerce.number().gt(0).max(1),
  }),
  workerTargetCpu: setting({
    env: 'JOBPLANE_WORKER_TARGET_CPU',
    default: '0.9',
    description: '`resource` tuner only: target CPU usage of the host, 0..1',
    schema: z.coerce.number().gt(0).max(1),
  }),
  workerShutdownGraceMs: setting({
    env: 'JOBPLANE_WORKER_SHUTDOWN_GRACE_MS',
    default: '30000',
    description: 'How long SIGTERM lets in-flight activities finish before cancelling them',
    schema: z.coerce.number().int().min(0),
  }),
  workerMetricsAddress: setting({
    env: 'JOBPLANE_WORKER_METRICS_ADDRESS',
    emptyIsValue: true,
    default: '127.0.0.1:9464',
    description: 'Bind address of the workers Prometheus endpoint (`/metrics`); empty disables it',
    schema: z.string(),
  }),
  workerHealthAddress: setting({
    env: 'JOBPLANE_WORKER_HEALTH_ADDRESS',
    emptyIsValue: true,
    default: '127.0.0.1:9465',
    description: 'Bind address of the workers health endpoint (`/healthz`, `/readyz` once polling); empty disables it',
    schema: z.string(),
  }),
  workflowBundlePath: setting({
    env: 'JOBPLANE_WORKFLOW_BUNDLE',
    default: undefined,
    description: 'Prebuilt workflow bundle file; unset: workers bundle `workflows/` at start',
    schema: optionalString,
  }),
  // batch.run (job patterns): stored item lists.
  batchInputLimitBytes: setting({
    env: 'JOBPLANE_BATCH_INPUT_LIMIT_BYTES',
    default: '67108864',
    description: 'Largest body of `POST /v1/batch-inputs` (a stored item list, JSON array or NDJSON, streamed; 413 above)',
    schema: positiveInt,
  }),
  batchInputMaxItems: setting({
    env: 'JOBPLANE_BATCH_INPUT_MAX_ITEMS',
    default: '200000',
    description: 'Most items in one stored list (`POST /v1/batch-inputs`)',
    schema: positiveInt,
  }),
  batchInputMaxItemBytes: setting({
    env: 'JOBPLANE_BATCH_INPUT_MAX_ITEM_BYTES',
    default: '65536',
    description: 'Largest single item of a stored list, as JSON',
    schema: positiveInt,
  }),
  devSinkPort: setting({
    env: 'JOBPLANE_DEV_SINK_PORT',
    default: '3100',
    description: '`npm start` only: port of the local webhook receiver the printed curl delivers to',
    schema: port,
  }),
  otlpEndpoint: setting({
    env: 'JOBPLANE_OTLP_ENDPOINT',
    default: undefined,
    description: 'OTLP/HTTP collector base URL (e.g. `http://127.0.0.1:4318`) that API and workers export traces to; unset: tracing off',
    schema: z.url().optional(),
  }),
  logLevel: setting({
    env: 'JOBPLANE_LOG_LEVEL',
    default: 'info',
    description: 'pino log level (`debug`, `info`, `warn`, `error`, `silent`)',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  }),
} as const;

type Settings = typeof settings;
type ParsedSettings = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

/** Fully parsed configuration, with defaults that depend on other settings filled in. */
export type Config = Omit<ParsedSettings, 'publicUrl' | 'temporalUiUrl'> & {
  publicUrl: string;
  temporalUiUrl: string;
};

/** Thrown by {@link loadConfig} when an environment variable has an invalid value. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; call at the edge (main files) and pass the result down. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(settings) as [string, Setting<unknown>][]) {
    const value = env[s.env];
    const raw = value === undefined || (value === '' && !s.emptyIsValue) ? s.default : value;
    const result = s.schema.safeParse(raw);
    if (result.success) parsed[key] = result.data;
    else problems.push(`${s.env}=${JSON.stringify(raw)}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  const p = parsed as ParsedSettings;
  return {
    ...p,
    publicUrl: p.publicUrl ?? `http://localhost:${p.port}`,
    temporalUiUrl: p.temporalUiUrl ?? `http://localhost:${p.temporalUiPort}`,
  };
}

/** Returns the database URL or explains how to get one. */
export function requireDatabaseUrl(config: Config): string {
  if (!config.databaseUrl) {
    throw new ConfigError('DATABASE_URL is not set (npm start provides an embedded Postgres; processes started alone need it)');
  }
  return config.databaseUrl;
}
