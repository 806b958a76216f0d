/**
 * The relay's configuration table: every environment variable it reads,
 * with its default and meaning, parsed once with zod. docs/OUTBOX.md holds
 * this table (`npx tsx client/outbox/print.ts config`; a unit test fails if
 * they drift). The relay runs beside the product service, not inside
 * Jobplane, so these are not in runtime/config.ts.
 */
import { z } from 'zod';
import { defaultOutboxTable, outboxTable } from '../table.ts';

interface Setting<T> {
  env: string;
  /** As written in the environment; undefined = required or unset. */
  default: string | undefined;
  description: string;
  /** An empty value means something ("disabled") instead of "use the default". */
  emptyIsValue?: boolean;
  schema: z.ZodType<T>;
}
const setting = <T>(s: Setting<T>): Setting<T> => s;

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
const required = (what: string) => z.string({ error: `is required: ${what}` }).min(1, `is required: ${what}`);
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'host:port, e.g. 0.0.0.0:9467');

/** Ordered as docs/OUTBOX.md lists them. */
export const relaySettings = {
  databaseUrl: setting({
    env: 'OUTBOX_DATABASE_URL',
    default: undefined,
    description: 'Postgres URL of the product service’s database, the one holding the outbox table (not Jobplane’s)',
    schema: required('the service database URL').regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  }),
  jobplaneUrl: setting({
    env: 'JOBPLANE_URL',
    default: undefined,
    description: 'Base URL of the Jobplane API, without `/v1` (e.g. `https://jobs.example.com`)',
    schema: required('the Jobplane API base URL').pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  }),
  apiKey: setting({
    env: 'JOBPLANE_API_KEY',
    default: undefined,
    description: 'A tenant API key with the `submitter` role (or above); every job is created as that tenant',
    schema: required('a submitter API key'),
  }),
  table: setting({
    env: 'OUTBOX_TABLE',
    default: defaultOutboxTable,
    description: 'The outbox table, optionally schema-qualified (`orders.jobplane_outbox`); its NOTIFY channel has the same name',
    schema: z.string().superRefine((name, ctx) => {
      try {
        outboxTable(name);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
  }),
  batchSize: setting({
    env: 'OUTBOX_RELAY_BATCH_SIZE',
    default: '10',
    description: 'Rows one claim takes (and sends at once); 1–100',
    schema: positiveInt.max(100),
  }),
  pollIntervalMs: setting({
    env: 'OUTBOX_RELAY_POLL_INTERVAL_MS',
    default: '2000',
    description: 'Longest wait between claims when no NOTIFY arrives (a missed notification, a retry coming due, a lease running out)',
    schema: positiveInt,
  }),
  leaseMs: setting({
    env: 'OUTBOX_RELAY_LEASE_MS',
    default: '30000',
    description: 'How long a claimed row is this relay’s: a relay that dies holding rows delays them by at most this. Longer than the request timeout',
    schema: positiveInt,
  }),
  requestTimeoutMs: setting({
    env: 'OUTBOX_RELAY_REQUEST_TIMEOUT_MS',
    default: '10000',
    description: 'Timeout of one `POST /v1/jobs`; a request past it is retried like a network error',
    schema: positiveInt,
  }),
  retryBaseMs: setting({
    env: 'OUTBOX_RELAY_RETRY_BASE_MS',
    default: '1000',
    description: 'First retry delay after a 429, 5xx or network error without `Retry-After`; doubles per attempt (with jitter)',
    schema: positiveInt,
  }),
  retryMaxMs: setting({
    env: 'OUTBOX_RELAY_RETRY_MAX_MS',
    default: '300000',
    description: 'Longest retry delay; a row is retried until it is relayed or refused for good, never dropped',
    schema: positiveInt,
  }),
  keepRelayedHours: setting({
    env: 'OUTBOX_RELAY_KEEP_RELAYED_HOURS',
    default: '168',
    description: 'Relayed rows older than this are deleted (in small batches, once a minute); `0` keeps them forever. Failed rows are never deleted',
    schema: nonNegativeInt,
  }),
  dbPoolMax: setting({
    env: 'OUTBOX_RELAY_DB_POOL_MAX',
    default: '4',
    description: 'Postgres connections of the relay to the service database (plus one for LISTEN)',
    schema: positiveInt,
  }),
  metricsAddress: setting({
    env: 'OUTBOX_RELAY_METRICS_ADDRESS',
    default: '127.0.0.1:9467',
    description: '`host:port` serving `/metrics` (Prometheus), `/healthz` and `/readyz`; empty: none',
    emptyIsValue: true,
    schema: z.union([z.literal(''), hostPort]),
  }),
  statusLogIntervalMs: setting({
    env: 'OUTBOX_RELAY_STATUS_LOG_INTERVAL_MS',
    default: '60000',
    description: 'How often the relay logs one status line (lag, pending and failed rows, counts); `0`: never',
    schema: nonNegativeInt,
  }),
  logLevel: setting({
    env: 'OUTBOX_RELAY_LOG_LEVEL',
    default: 'info',
    description: 'pino log level (`debug`, `info`, `warn`, `error`, `silent`)',
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  }),
} as const;

type Settings = typeof relaySettings;
/** The relay's parsed configuration. */
export type RelayConfig = { [K in keyof Settings]: Settings[K] extends Setting<infer T> ? T : never };

/** Thrown by {@link loadRelayConfig} when variables are missing or invalid; the message names every one. */
export class RelayConfigError extends Error {
  override name = 'RelayConfigError';
}

/** Parses the environment once, at the relay's edge; names every bad variable in one error. */
export function loadRelayConfig(env: NodeJS.ProcessEnv = process.env): RelayConfig {
  const parsed: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(relaySettings) as [string, Setting<unknown>][]) {
    const value = env[s.env];
    const raw = value === undefined || (value === '' && !s.emptyIsValue) ? s.default : value;
    const result = s.schema.safeParse(raw);
    if (result.success) parsed[key] = result.data;
    else problems.push(`${s.env}${raw === undefined || /KEY|URL/.test(s.env) ? '' : `=${JSON.stringify(raw)}`}: ${result.error.issues.map((i) => i.message).join('; ')}`);
  }
  const config = parsed as RelayConfig;
  if (problems.length === 0 && config.leaseMs < config.requestTimeoutMs + 5000) {
    // A lease shorter than a send would let a second relay take a row the first is still sending.
    problems.push(`OUTBOX_RELAY_LEASE_MS=${config.leaseMs}: must be at least OUTBOX_RELAY_REQUEST_TIMEOUT_MS + 5000 (${config.requestTimeoutMs + 5000})`);
  }
  if (problems.length === 0 && config.retryMaxMs < config.retryBaseMs) problems.push(`OUTBOX_RELAY_RETRY_MAX_MS=${config.retryMaxMs}: must be at least OUTBOX_RELAY_RETRY_BASE_MS (${config.retryBaseMs})`);
  if (problems.length > 0) throw new RelayConfigError(`invalid outbox relay configuration:\n  ${problems.join('\n  ')}`);
  return config;
}

/** The Markdown table of docs/OUTBOX.md. */
export function relayConfigTableMarkdown(): string {
  const rows = Object.values(relaySettings).map((s) => {
    const def = s.default === undefined ? '(required)' : s.default === '' ? '(empty)' : `\`${s.default}\``;
    return `| \`${s.env}\` | ${def} | ${s.description} |`;
  });
  return ['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n');
}
