/**
 * The one configuration table. Every environment variable Jobplane reads is
 * declared here with its default and meaning; the table in docs/CONFIGURATION.md is checked
 * against this list by a test, so the two cannot drift.
 */
import { z } from 'zod';

interface Setting<T> {
  /** Environment variable name. */
  env: string;
  /** Default as it would be written in the environment; `undefined` = unset. */
  default: string | undefined;
  /** One line for docs/CONFIGURATION.md. */
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

/** Ordered as docs/CONFIGURATION.md lists them. */
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
  dbPoolMax: setting({
    env: 'JOBPLANE_DB_POOL_MAX',
    default: '10',
    description: 'Postgres connections per API or worker process (size it with max_connections / processes)',
    schema: positiveInt,
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
  temporalTopology: setting({
    env: 'JOBPLANE_TEMPORAL',
    default: 'dev',
    description: 'Which Temporal `npm start` runs when none answers at TEMPORAL_ADDRESS: `dev` (the CLI dev server, one process, SQLite) or `cluster` (frontend, history, matching and worker as separate processes on Postgres, server defaults; see docs/DEPLOY.md)',
    schema: z.enum(['dev', 'cluster']),
  }),
  temporalHistoryShards: setting({
    env: 'JOBPLANE_TEMPORAL_HISTORY_SHARDS',
    default: '4',
    description: 'History shards of the local cluster (`JOBPLANE_TEMPORAL=cluster`); fixed at its first start and can never change (production: 512 or more)',
    schema: positiveInt,
  }),
  temporalNamespace: setting({
    env: 'TEMPORAL_NAMESPACE',
    default: 'default',
    description: 'Temporal namespace for every job workflow',
    schema: z.string().min(1),
  }),
  temporalTls: setting({
    env: 'TEMPORAL_TLS',
    default: 'auto',
    description: 'TLS to the Temporal frontend: `auto` (on when an API key or any `TEMPORAL_TLS_*` path is set), `true`, `false`. Same variables as the `temporal` CLI',
    schema: z.enum(['auto', 'true', 'false']),
  }),
  temporalTlsServerCaCertPath: setting({
    env: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    default: undefined,
    description: 'PEM CA bundle that signs the frontend certificate (self-hosted clusters); unset: the system roots (Temporal Cloud)',
    schema: optionalString,
  }),
  temporalTlsClientCertPath: setting({
    env: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
    default: undefined,
    description: 'PEM client certificate for mTLS (with TEMPORAL_TLS_CLIENT_KEY_PATH)',
    schema: optionalString,
  }),
  temporalTlsClientKeyPath: setting({
    env: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
    default: undefined,
    description: 'PEM private key of the mTLS client certificate',
    schema: optionalString,
  }),
  temporalTlsServerName: setting({
    env: 'TEMPORAL_TLS_SERVER_NAME',
    default: undefined,
    description: 'Name checked against the frontend certificate (SNI) when it differs from the address host',
    schema: optionalString,
  }),
  temporalApiKey: setting({
    env: 'TEMPORAL_API_KEY',
    default: undefined,
    description: 'API key sent as `Authorization: Bearer` to the frontend (Temporal Cloud API-key auth); implies TLS',
    schema: optionalString,
  }),
  temporalUiPort: setting({
    env: 'TEMPORAL_UI_PORT',
    default: '8233',
    description: 'Port of the Temporal Web UI started by `npm start` (dev server or cluster)',
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
  temporalCallTimeoutMs: setting({
    env: 'JOBPLANE_TEMPORAL_CALL_TIMEOUT_MS',
    default: '3000',
    description: 'Deadline of a workflow start, signal, cancel or describe made for a request; past it (Temporal partly down) the request answers 503 `temporal-unavailable` with Retry-After (3 s leaves room for the rest of a create within 5 s)',
    schema: positiveInt,
  }),
  visibilityRatePerSecond: setting({
    env: 'JOBPLANE_VISIBILITY_RATE_PER_SECOND',
    default: '5',
    description: 'Temporal list/count calls one API process may make per second (the server allows 10 per frontend by default, shared by the namespace); past it a listing answers 503 `temporal-throttled` with Retry-After',
    schema: z.coerce.number().positive(),
  }),
  runningCountRatePerSecond: setting({
    env: 'JOBPLANE_RUNNING_COUNT_RATE_PER_SECOND',
    default: '2',
    description: 'Temporal count calls one API process may make per second for the running-jobs cap (taken only for tenants that could be at their cap; see docs/API.md, "Limits and fairness")',
    schema: z.coerce.number().positive(),
  }),
  visibilityTimeoutMs: setting({
    env: 'JOBPLANE_VISIBILITY_TIMEOUT_MS',
    default: '3000',
    description: 'Deadline of one Temporal list/count call made for a request (503 `temporal-throttled` past it)',
    schema: positiveInt,
  }),
  apiMetricsAddress: setting({
    env: 'JOBPLANE_API_METRICS_ADDRESS',
    emptyIsValue: true,
    default: '127.0.0.1:9466',
    description: 'Bind address of the API\'s Prometheus endpoint (`/metrics`), a listener of its own so the public port never serves it; empty disables it',
    schema: z.string(),
  }),
  tenantMaxInFlight: setting({
    env: 'JOBPLANE_TENANT_MAX_IN_FLIGHT',
    default: '8',
    description: 'Requests of one tenant an API process works on at once; more wait their turn (long polls and streamed uploads aside), so one tenant cannot take the process from the others',
    schema: positiveInt,
  }),
  tenantQueueMs: setting({
    env: 'JOBPLANE_TENANT_QUEUE_MS',
    default: '30000',
    description: 'How long a request waits for one of its tenant\'s in-flight slots before answering 429 `rate-limited` (a burst within the tenant\'s quota waits its turn, it is not refused)',
    schema: positiveInt,
  }),
  httpHeadersTimeoutMs: setting({
    env: 'JOBPLANE_HTTP_HEADERS_TIMEOUT_MS',
    default: '10000',
    description: 'The API closes a connection whose request headers have not all arrived within this time',
    schema: positiveInt,
  }),
  httpRequestTimeoutMs: setting({
    env: 'JOBPLANE_HTTP_REQUEST_TIMEOUT_MS',
    default: '120000',
    description: 'The API closes a connection whose whole request (headers and body, uploads included) has not arrived within this time',
    schema: positiveInt,
  }),
  httpIdleTimeoutMs: setting({
    env: 'JOBPLANE_HTTP_IDLE_TIMEOUT_MS',
    default: '75000',
    description: 'The API closes a connection on which nothing moved for this long (above the 60 s longest long poll)',
    schema: positiveInt,
  }),
  httpKeepAliveTimeoutMs: setting({
    env: 'JOBPLANE_HTTP_KEEP_ALIVE_TIMEOUT_MS',
    default: '5000',
    description: 'How long the API keeps an idle keep-alive connection open for the next request',
    schema: positiveInt,
  }),
  jsonMaxDepth: setting({
    env: 'JOBPLANE_JSON_MAX_DEPTH',
    default: '64',
    description: 'Deepest nesting of arrays and objects a JSON body (or a stored list item, or document metadata) may have (400 deeper)',
    schema: positiveInt,
  }),
  bodyLimitBytes: setting({
    env: 'JOBPLANE_BODY_LIMIT_BYTES',
    default: '1048576',
    description: 'Largest request body the API accepts (413 above)',
    schema: positiveInt,
  }),
  messageTimeoutMs: setting({
    env: 'JOBPLANE_MESSAGE_TIMEOUT_MS',
    default: '30000',
    description: 'How long a job update or query through the API waits for a worker to run it before answering 503 `workers-unavailable`',
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
  // --- Job-end events (issue 16): the workers' watcher of closed job runs. ---
  jobEventsWatcher: setting({
    env: 'JOBPLANE_JOB_EVENTS_WATCHER',
    default: 'true',
    description: 'Whether this worker process takes part in watching for ended jobs (job.succeeded, … to subscriptions and callbackUrls); one process at a time is active (a Postgres advisory lock), the others stand by',
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  }),
  jobEventsIntervalMs: setting({
    env: 'JOBPLANE_JOB_EVENTS_INTERVAL_MS',
    default: '5000',
    description: 'How often the job-end watcher lists runs that closed since its cursor (one Temporal visibility call per tick, plus one per further page)',
    schema: positiveInt,
  }),
  jobEventsOverlapMs: setting({
    env: 'JOBPLANE_JOB_EVENTS_OVERLAP_MS',
    default: '30000',
    description: 'How far before its cursor each watcher tick lists again, for runs visibility recorded late (eventually consistent); the derived delivery ids keep the overlap from sending twice',
    schema: z.coerce.number().int().min(0),
  }),
  jobEventsMaxWindowMs: setting({
    env: 'JOBPLANE_JOB_EVENTS_MAX_WINDOW_MS',
    default: '300000',
    description: 'Longest stretch of close time one watcher tick handles; a watcher that is behind catches up window by window (its lag gauge falls)',
    schema: positiveInt,
  }),
  jobEventsVisibilityRatePerSecond: setting({
    env: 'JOBPLANE_JOB_EVENTS_VISIBILITY_RATE_PER_SECOND',
    default: '2',
    description: 'Most Temporal list calls (pages) per second the job-end watcher makes; the namespace allows about 10 per frontend for everyone',
    schema: z.coerce.number().positive(),
  }),
  // --- Documents (issue 5): upload limits, blob store, classifier, retention. ---
  documentMaxBytes: setting({
    env: 'JOBPLANE_DOCUMENT_MAX_BYTES',
    default: '26214400',
    description: 'Largest document `POST /v1/documents` accepts (413 above, checked while streaming); the JSON body limit does not apply to uploads',
    schema: positiveInt,
  }),
  documentMaxTextChars: setting({
    env: 'JOBPLANE_DOCUMENT_MAX_TEXT_CHARS',
    default: '5000000',
    description: 'Most text characters one document may yield; above it the ingestion fails with `DocumentTextTooLong`',
    schema: positiveInt,
  }),
  documentMaxInflatedBytes: setting({
    env: 'JOBPLANE_DOCUMENT_MAX_INFLATED_BYTES',
    default: '67108864',
    description: 'Bytes the streams of one PDF may inflate to (content, fonts, object streams; not images) before its ingestion fails with `DocumentTooComplex` (a decompression bomb); checked before PDF.js reads it',
    schema: positiveInt,
  }),
  documentMaxPages: setting({
    env: 'JOBPLANE_DOCUMENT_MAX_PAGES',
    default: '2000',
    description: 'Most pages of one PDF (`DocumentTooComplex` above)',
    schema: positiveInt,
  }),
  documentExtractTimeoutMs: setting({
    env: 'JOBPLANE_DOCUMENT_EXTRACT_TIMEOUT_MS',
    default: '60000',
    description: 'Wall time one PDF\'s text extraction may take (in a worker thread, ended past it: `DocumentTooComplex`)',
    schema: positiveInt,
  }),
  documentExtractMemoryMb: setting({
    env: 'JOBPLANE_DOCUMENT_EXTRACT_MEMORY_MB',
    default: '256',
    description: 'Heap limit (MiB) of the worker thread that extracts one PDF\'s text (`DocumentTooComplex` past it)',
    schema: positiveInt,
  }),
  documentChunkChars: setting({
    env: 'JOBPLANE_DOCUMENT_CHUNK_CHARS',
    default: '1500',
    description: 'Target size of an indexed chunk in characters (chunks end at paragraph or sentence boundaries)',
    schema: z.coerce.number().int().min(200).max(100_000),
  }),
  documentRetentionIntervalSeconds: setting({
    env: 'JOBPLANE_DOCUMENT_RETENTION_INTERVAL_SECONDS',
    default: '3600',
    description: 'How often the retention Schedule runs (workers polling `documents` create or update it at start)',
    schema: positiveInt,
  }),
  codeVersion: setting({
    env: 'JOBPLANE_CODE_VERSION',
    default: undefined,
    description: 'Code version recorded in document lineage (set it to the release or git commit); unset: `<package version>+<hash of activities/ sources>`',
    schema: optionalString,
  }),
  blobStore: setting({
    env: 'JOBPLANE_BLOB_STORE',
    default: 'filesystem',
    description: 'Where document bytes live: `filesystem` (JOBPLANE_BLOB_DIR, shared by API and workers) or `s3` (any S3-compatible store)',
    schema: z.enum(['filesystem', 's3']),
  }),
  blobDir: setting({
    env: 'JOBPLANE_BLOB_DIR',
    default: undefined,
    description: '`filesystem` store root (default `<JOBPLANE_DATA_DIR>/blobs`)',
    schema: optionalString,
  }),
  blobS3Endpoint: setting({
    env: 'JOBPLANE_BLOB_S3_ENDPOINT',
    default: undefined,
    description: '`s3` store: endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or a MinIO URL',
    schema: z.url().optional(),
  }),
  blobS3Region: setting({
    env: 'JOBPLANE_BLOB_S3_REGION',
    default: 'us-east-1',
    description: '`s3` store: region used in request signatures',
    schema: z.string().min(1),
  }),
  blobS3Bucket: setting({
    env: 'JOBPLANE_BLOB_S3_BUCKET',
    default: undefined,
    description: '`s3` store: bucket (must exist)',
    schema: optionalString,
  }),
  blobS3AccessKeyId: setting({
    env: 'JOBPLANE_BLOB_S3_ACCESS_KEY_ID',
    default: undefined,
    description: '`s3` store: access key id',
    schema: optionalString,
  }),
  blobS3SecretAccessKey: setting({
    env: 'JOBPLANE_BLOB_S3_SECRET_ACCESS_KEY',
    default: undefined,
    description: '`s3` store: secret access key (never logged)',
    schema: optionalString,
  }),
  blobS3PathStyle: setting({
    env: 'JOBPLANE_BLOB_S3_PATH_STYLE',
    default: 'true',
    description: '`s3` store: `true` for `<endpoint>/<bucket>/<key>` URLs (MinIO and most S3-compatible stores), `false` for `<bucket>.<endpoint host>`',
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
  }),
  classifierProvider: setting({
    env: 'JOBPLANE_CLASSIFIER_PROVIDER',
    default: 'rules',
    description: 'Document classifier: `rules` (deterministic keywords) or `openai` (any OpenAI-compatible chat-completions API)',
    schema: z.enum(['rules', 'openai']),
  }),
  classifierBaseUrl: setting({
    env: 'JOBPLANE_CLASSIFIER_BASE_URL',
    default: 'https://api.openai.com/v1',
    description: '`openai` classifier: base URL (`…/chat/completions` is appended)',
    schema: z.url(),
  }),
  classifierModel: setting({
    env: 'JOBPLANE_CLASSIFIER_MODEL',
    default: 'gpt-4o-mini',
    description: '`openai` classifier: model name',
    schema: z.string().min(1),
  }),
  classifierApiKey: setting({
    env: 'JOBPLANE_CLASSIFIER_API_KEY',
    default: undefined,
    description: '`openai` classifier: API key sent as a Bearer token (never logged)',
    schema: optionalString,
  }),
  classifierTimeoutMs: setting({
    env: 'JOBPLANE_CLASSIFIER_TIMEOUT_MS',
    default: '30000',
    description: '`openai` classifier: timeout of one HTTP call',
    schema: positiveInt,
  }),
  classifierMaxAttempts: setting({
    env: 'JOBPLANE_CLASSIFIER_MAX_ATTEMPTS',
    default: '3',
    description: '`openai` classifier: answers that are not the JSON asked for are asked again this many times in all, then the ingestion fails (`ClassifierMalformedResponse`)',
    schema: z.coerce.number().int().min(1).max(10),
  }),
  classifierMaxInputChars: setting({
    env: 'JOBPLANE_CLASSIFIER_MAX_INPUT_CHARS',
    default: '8000',
    description: '`openai` classifier: characters of the document text sent (from the start)',
    schema: z.coerce.number().int().min(100).max(1_000_000),
  }),
  // --- end of documents ---
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
export type Config = Omit<ParsedSettings, 'publicUrl' | 'temporalUiUrl' | 'blobDir'> & {
  publicUrl: string;
  temporalUiUrl: string;
  blobDir: string;
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
    blobDir: p.blobDir ?? `${p.dataDir}/blobs`,
  };
}

/** Returns the database URL or explains how to get one. */
export function requireDatabaseUrl(config: Config): string {
  if (!config.databaseUrl) {
    throw new ConfigError('DATABASE_URL is not set (npm start provides an embedded Postgres; processes started alone need it)');
  }
  return config.databaseUrl;
}
