/**
 * The Kubernetes Temporal cluster (infra/k8s/temporal) and the overlay that
 * deploys it with Jobplane (infra/k8s/overlays/self-hosted), offline: every
 * object validates against the schema of its kind; the server config template,
 * rendered with each Deployment's own environment, gives every process the
 * same shard count, its pod IP as broadcast address, explicit connection
 * limits, the shipped dynamic config (mounted byte for byte), the authorizer
 * on the public frontend and the internal-frontend for internal callers; the
 * probes, resources and security contexts are there; no secret is inline; the
 * NetworkPolicies admit exactly who should reach what; and Jobplane, KEDA and
 * the Web UI point at the frontend Service.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../runtime/config.ts';
import { searchAttributeFlags } from '../../contracts/search-attributes.ts';
import { BIN_DIR } from '../../scripts/lib/tool-files.ts';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_VERSION } from '../../scripts/lib/temporal-server-tools.ts';
import { bytes, ingressAllowed, isTemporalObject, matches, ofKind, renderKustomizations, repoRoot, schemaProblems, type PodView, type RenderedSet } from './kubernetes.ts';
import {
  component, deployments, effectiveEnv, isServer, named, portsOf, samplePodIp, serverConfigs, workloads,
  type Container, type PodSpec, type ScaledObject, type Service, type TriggerAuthentication, type Workload,
} from './temporal-cluster.ts';

const cluster = 'infra/k8s/temporal';
const overlay = 'infra/k8s/overlays/self-hosted';
const files = 'infra/temporal';
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

// --- rendering ---------------------------------------------------------------------------------

let set: RenderedSet;
beforeAll(async () => {
  set = await renderKustomizations([files, cluster, overlay]);
}, 15 * 60_000);

const temporalObjects = (dir: string) => set.rendered.get(dir)!.filter(isTemporalObject);

// --- the tests ---------------------------------------------------------------------------------

describe.each([cluster, overlay])('the Temporal cluster in kustomize build %s', (dir) => {
  const objects = () => temporalObjects(dir);
  /** Everything rendered: the overlay generates the Secrets Temporal's pods reference. */
  const all = () => set.rendered.get(dir)!;

  it('renders a Deployment per service (frontend 2 replicas), the Web UI, the schema and setup Jobs, all in namespace temporal', () => {
    const byComponent = Object.fromEntries(deployments(objects()).map((d) => [component(d), d]));
    expect(Object.keys(byComponent).sort()).toEqual(['frontend', 'history', 'internal-frontend', 'matching', 'web-ui', 'worker']);
    expect(byComponent.frontend!.spec.replicas).toBe(2);
    expect(serverConfigs(set, all()).map((s) => s.service).sort()).toEqual(['frontend', 'history', 'internal-frontend', 'matching', 'worker']);
    expect(ofKind<Workload>(objects(), 'Job').map(component).sort()).toEqual(['schema', 'setup']);
    for (const o of objects()) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('temporal');
    expect(ofKind(objects(), 'Namespace')[0]?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('every object validates against the schema of its kind, with no unknown field', async () => {
    expect(await schemaProblems(set, objects())).toEqual([]);
  });

  it('mounts infra/temporal/dynamicconfig.yaml byte for byte, at the path every server config names', () => {
    const shipped = read('infra/temporal/dynamicconfig.yaml');
    const configMap = named(objects(), 'ConfigMap', 'temporal-dynamic-config')!;
    expect(configMap.data).toEqual({ 'dynamicconfig.yaml': shipped });
    // The same object infra/temporal renders on its own (the cluster takes it from there, not from a copy).
    expect(named(set.rendered.get(files)!, 'ConfigMap', 'temporal-dynamic-config')!.metadata.name).toBe(configMap.metadata.name);
    const servers = serverConfigs(set, all());
    expect(servers).toHaveLength(5);
    for (const { d, pod, c, config } of servers) {
      const file = config.dynamicConfigClient.filepath;
      const mount = c.volumeMounts?.find((m) => m.mountPath === path.posix.dirname(file));
      expect(mount?.readOnly, `${d.metadata.name} mounts ${path.posix.dirname(file)}`).toBe(true);
      expect(pod.volumes?.find((v) => v.name === mount!.name)?.configMap?.name, d.metadata.name).toBe(configMap.metadata.name);
      expect(Object.keys(configMap.data!)).toContain(path.posix.basename(file));
    }
    // The scripts the Jobs run are the compose stack's, byte for byte too.
    expect(named(objects(), 'ConfigMap', 'temporal-scripts')!.data).toEqual({ 'setup-schema.sh': read('infra/temporal/setup-schema.sh'), 'setup-namespace.sh': read('infra/temporal/setup-namespace.sh') });
  });

  it('every process gets the same 512 shards, its pod IP as broadcast address, and its own service’s ports', () => {
    for (const { d, c, service, env, config } of serverConfigs(set, all())) {
      expect(config.persistence.numHistoryShards, d.metadata.name).toBe(512);
      expect(c.env?.find((e) => e.name === 'POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe('status.podIP');
      expect(config.global.membership.broadcastAddress).toBe(samplePodIp);
      const { rpc } = config.services[service]!;
      expect(rpc.bindOnIP).toBe('0.0.0.0');
      const ports = portsOf(c);
      expect({ grpc: ports.grpc, membership: ports.membership }, d.metadata.name).toEqual({ grpc: rpc.grpcPort, membership: rpc.membershipPort });
      if (rpc.httpPort) expect(ports.http, d.metadata.name).toBe(rpc.httpPort);
      expect(env.GOMEMLIMIT, d.metadata.name).toMatch(/^\d+MiB$/);
      expect(Number.parseInt(env.GOMEMLIMIT!, 10) * 2 ** 20, `${d.metadata.name}: GOMEMLIMIT vs memory limit`).toBeLessThanOrEqual(bytes(c.resources!.limits!.memory!) * 0.85);
    }
    expect(read(`${cluster}/server-config.template.yaml`)).toMatch(/NEVER CHANGE[^\n]*\n(#[^\n]*\n|\s+#[^\n]*\n)*\s+numHistoryShards: 512/);
  });

  it('sets maxConns of both stores in every Deployment, and the sum fits the Postgres budget stated in kustomization.yaml and docs/DEPLOY.md', () => {
    let steady = 0;
    let surge = 0;
    for (const { d, config } of serverConfigs(set, all())) {
      const { datastores, defaultStore, visibilityStore } = config.persistence;
      expect(Object.keys(datastores).sort()).toEqual([defaultStore, visibilityStore].sort());
      let perPod = 0;
      for (const store of [defaultStore, visibilityStore]) {
        const { sql } = datastores[store]!;
        expect(sql.pluginName).toBe('postgres12');
        // A literal of the Deployment itself (no default in the template), positive: 0 would mean unbounded.
        expect(Number.isInteger(sql.maxConns) && sql.maxConns > 0, `${d.metadata.name} ${store}.maxConns`).toBe(true);
        expect(sql.maxIdleConns).toBe(sql.maxConns);
        perPod += sql.maxConns;
      }
      steady += d.spec.replicas! * perPod;
      surge += (d.spec.replicas! + (d.spec.strategy?.rollingUpdate?.maxSurge ?? 1)) * perPod;
    }
    const schemaJob = 2;
    const stated = read(`${cluster}/kustomization.yaml`);
    expect(stated).toContain(`= ${steady}`);
    expect(stated).toContain(`= ${surge} during rollouts`);
    const maxConnections = Number(/max_connections >= (\d+)/.exec(stated)?.[1]);
    expect(surge + schemaJob + 3, 'surge + schema Job + superuser_reserved_connections').toBeLessThanOrEqual(maxConnections);
    const docs = read('docs/DEPLOY.md');
    for (const n of [steady, surge]) expect(docs, `docs/DEPLOY.md states ${n}`).toContain(String(n));
    // The databases are the ones the schema Job creates.
    const dbs = [...read('infra/temporal/setup-schema.sh').matchAll(/"(\w+):(temporal|visibility)"/g)].map((m) => m[1]);
    const { config } = serverConfigs(set, all())[0]!;
    expect(dbs).toEqual([config.persistence.datastores.default!.sql.databaseName, config.persistence.datastores.visibility!.sql.databaseName]);
  });

  it('the public frontend serves TLS and authorizes with JWTs; internal callers go through the internal-frontend', () => {
    for (const { d, pod, c, service, config } of serverConfigs(set, all())) {
      const { authorization, tls } = config.global;
      expect(authorization).toMatchObject({ authorizer: 'default', claimMapper: 'default', permissionsClaimName: 'permissions' });
      expect(authorization.jwtKeyProvider.keySourceURIs).toEqual([expect.stringMatching(/^https:\/\//)]);
      // services.internal-frontend present + no publicClient: the worker service and other internal callers use it.
      expect(Object.keys(config.services).sort()).toEqual(['frontend', 'history', 'internal-frontend', 'matching', 'worker']);
      expect(config.publicClient, d.metadata.name).toBeUndefined();
      const { certFile, keyFile } = tls.frontend.server;
      if (service !== 'frontend') {
        expect([certFile, keyFile], `${d.metadata.name} holds no frontend certificate`).toEqual(['', '']);
        continue;
      }
      for (const file of [certFile, keyFile]) {
        const mount = c.volumeMounts?.find((m) => m.mountPath === path.posix.dirname(file));
        const secret = pod.volumes?.find((v) => v.name === mount?.name)?.secret;
        expect(secret?.secretName, file).toMatch(/^temporal-frontend-tls/);
        expect(secret?.items?.map((i) => i.path)).toContain(path.posix.basename(file));
      }
    }
  });

  it('every Deployment has probes on the ports its process serves, resources, and memory request = limit', () => {
    // Health names the 1.29 server registers (service/history/handler.go, service/matching/handler.go, service/frontend/interface.go).
    const grpcHealth: Record<string, string> = {
      history: 'temporal.api.workflowservice.v1.HistoryService',
      matching: 'temporal.api.workflowservice.v1.MatchingService',
      'internal-frontend': 'temporal.api.workflowservice.v1.WorkflowService',
    };
    for (const d of deployments(objects())) {
      const c = d.spec.template.spec.containers[0]!;
      const ports = portsOf(c);
      const name = d.metadata.name;
      const probes = [c.readinessProbe, c.livenessProbe];
      if (isServer(d)) probes.push(c.startupProbe);
      for (const p of probes) expect(p, `${name} probes`).toBeDefined();
      const kind = component(d);
      if (grpcHealth[kind]) {
        for (const p of probes) expect(p?.grpc, name).toEqual({ port: ports.grpc, service: grpcHealth[kind] });
      } else if (kind === 'frontend') {
        // TLS on the gRPC port, which the kubelet's gRPC probe cannot speak: GetSystemInfo over HTTPS.
        for (const p of [c.readinessProbe, c.startupProbe]) expect(p?.httpGet).toEqual({ scheme: 'HTTPS', path: '/api/v1/system-info', port: 'http' });
        expect(c.livenessProbe?.tcpSocket?.port).toBe('grpc');
      } else if (kind === 'worker') {
        for (const p of probes) expect(p?.tcpSocket?.port).toBe('membership');
      } else {
        for (const p of probes) expect(p?.httpGet).toMatchObject({ path: '/healthz', port: 'http' });
      }
      const { requests = {}, limits = {} } = c.resources ?? {};
      expect(String(requests.cpu), `${name} cpu request`).toMatch(/^\d+m?$/);
      expect(bytes(limits.memory ?? '0'), `${name} memory limit`).toBeGreaterThan(0);
      expect(requests.memory, `${name}: memory request = limit`).toBe(limits.memory);
    }
    for (const j of ofKind<Workload>(objects(), 'Job')) expect(j.spec.template.spec.containers[0]!.resources?.limits?.memory, j.metadata.name).toBeDefined();
  });

  it('every pod runs as a non-root user, read-only, without capabilities, privilege escalation, service links or API token', () => {
    const images = new Set<string>();
    for (const w of workloads(objects())) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext, w.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.automountServiceAccountToken, w.metadata.name).toBe(false);
      // A Service named temporal-ui would otherwise hand the UI TEMPORAL_UI_PORT=tcp://…
      expect(pod.enableServiceLinks, w.metadata.name).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext, w.metadata.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, `${w.metadata.name}: /tmp is an emptyDir`).toBeDefined();
        images.add(c.image);
      }
    }
    const compose = read('infra/compose.yaml');
    const adminTools = /image: (temporalio\/admin-tools:\S+)/.exec(compose)?.[1];
    expect([...images].sort()).toEqual([adminTools, `temporalio/server:${TEMPORAL_SERVER_VERSION}`, `temporalio/ui:${TEMPORAL_UI_VERSION}`].sort());
  });

  it('no secret is inline: passwords, keys and tokens come from Secrets that hold them, and no Secret value appears anywhere else', () => {
    const secretLike = /PASSWORD|SECRET|TOKEN|(^|_)KEY$|API_KEY|CODEC_KEY/;
    const secrets = ofKind(all(), 'Secret');
    // The base generates none: they come from a secret store (the overlay has placeholders).
    if (dir === cluster) expect(secrets).toEqual([]);
    const keysOf = (name: string) => Object.keys(secrets.find((x) => x.metadata.name === name)?.data ?? {});
    const secretValues = secrets.flatMap((x) => Object.entries(x.data ?? {}).filter(([k]) => /password|secret|token|key|database_url/i.test(k)).map(([, v]) => Buffer.from(v, 'base64').toString('utf8')));
    if (dir === overlay) expect(secretValues.length).toBeGreaterThanOrEqual(5);
    const texts: string[] = ofKind(all(), 'ConfigMap').flatMap((m) => Object.values(m.data ?? {}));
    for (const w of workloads(objects())) {
      const pod = w.spec.template.spec;
      const secretMounts = (c: Container) => (c.volumeMounts ?? []).filter((m) => pod.volumes?.find((v) => v.name === m.name)?.secret).map((m) => m.mountPath);
      for (const c of pod.containers) {
        for (const e of c.env ?? []) {
          // A secret either from a Secret, or as the path of a file on a Secret volume (the frontend's TLS key).
          const onSecretVolume = !!e.value && secretMounts(c).includes(path.posix.dirname(e.value));
          if (secretLike.test(e.name) && !onSecretVolume) expect(e.valueFrom?.secretKeyRef, `${w.metadata.name}: ${e.name} from a Secret`).toBeDefined();
          const ref = e.valueFrom?.secretKeyRef;
          if (ref && dir === overlay) expect(keysOf(ref.name), `${w.metadata.name}: ${e.name}`).toContain(ref.key);
          if (e.value) texts.push(e.value);
        }
        texts.push(...(c.command ?? []));
      }
      for (const v of pod.volumes ?? []) {
        if (v.secret && dir === overlay) for (const item of v.secret.items ?? []) expect(keysOf(v.secret.secretName), `${w.metadata.name}: volume ${v.name}`).toContain(item.key);
      }
    }
    for (const value of secretValues) for (const text of texts) expect(text.includes(value), `a Secret value written out in ${text.slice(0, 60)}`).toBe(false);
    // The template reads the Postgres credentials from the environment only.
    for (const { config, env } of serverConfigs(set, all())) {
      expect(config.persistence.datastores.default!.sql.password).toBe(env.POSTGRES_PASSWORD);
      if (dir === overlay) expect(env.POSTGRES_PASSWORD).toMatch(/^PLACEHOLDER/);
    }
  });

  it('Services: the frontend and internal-frontend ClusterIP, the Web UI ClusterIP only, a headless Service over every server pod', () => {
    const services = ofKind<Service>(objects(), 'Service');
    const pods = deployments(objects()).map((d) => ({ d, labels: d.spec.template.metadata?.labels, ports: portsOf(d.spec.template.spec.containers[0]!) }));
    const selected = (s: Service) => pods.filter((p) => matches(s.spec.selector, p.labels));
    for (const [name, kind, port] of [['temporal-frontend', 'frontend', 7233], ['temporal-internal-frontend', 'internal-frontend', 7236], ['temporal-web-ui', 'web-ui', 8080]] as const) {
      const s = services.find((x) => x.metadata.name === name)!;
      expect(s.spec.type, name).toBe('ClusterIP');
      expect(selected(s).map((p) => component(p.d))).toEqual([kind]);
      const p = s.spec.ports.find((x) => x.port === port)!;
      expect(selected(s)[0]!.ports[String(p.targetPort)], `${name}:${port}`).toBe(port);
      for (const x of s.spec.ports) expect(x.nodePort, name).toBeUndefined();
    }
    const members = services.find((s) => s.spec.clusterIP === 'None')!;
    expect(members.spec.publishNotReadyAddresses).toBe(true);
    expect(selected(members).map((p) => component(p.d)).sort()).toEqual(['frontend', 'history', 'internal-frontend', 'matching', 'worker']);
    for (const p of selected(members)) for (const { targetPort } of members.spec.ports) expect(p.ports[String(targetPort)], `${p.d.metadata.name} ${targetPort}`).toBeGreaterThan(0);
  });

  it('the schema Job runs setup-schema.sh (setup-schema -v 0.0, update-schema of both databases), the setup Job registers the search attributes on the internal-frontend', () => {
    const job = (kind: string) => ofKind<Workload>(objects(), 'Job').find((j) => component(j) === kind)!.spec.template.spec;
    const script = (pod: PodSpec) => {
      const c = pod.containers[0]!;
      const file = c.command!.at(-1)!;
      const mount = c.volumeMounts!.find((m) => m.mountPath === path.posix.dirname(file))!;
      return named(objects(), 'ConfigMap', pod.volumes!.find((v) => v.name === mount.name)!.configMap!.name)!.data![path.posix.basename(file)]!;
    };
    const schema = script(job('schema'));
    expect(schema).toContain('temporal-sql-tool --plugin postgres12');
    expect(schema).toMatch(/setup-schema -v 0\.0/);
    expect(schema).toMatch(/update-schema -d "\$schema_dir\/\$dir\/versioned"/);
    expect(schema).toContain('schema_dir=/etc/temporal/schema/postgresql/v12');
    const schemaEnv = job('schema').containers[0]!.env!;
    for (const name of ['POSTGRES_SEEDS', 'DB_PORT', 'POSTGRES_USER', 'SQL_PASSWORD']) expect(schemaEnv.map((e) => e.name), name).toContain(name);
    expect(schemaEnv.find((e) => e.name === 'SQL_PASSWORD')?.valueFrom?.secretKeyRef?.name).toMatch(/^temporal-postgres/);

    expect(script(job('setup'))).toContain('temporal operator search-attribute create');
    const env = effectiveEnv(all(), job('setup').containers[0]!);
    const pairs = searchAttributeFlags().filter((f) => f !== '--search-attribute');
    expect(env.SEARCH_ATTRIBUTES!.split(/\s+/).sort()).toEqual(pairs.sort());
    expect(env.TEMPORAL_ADDRESS).toBe('temporal-internal-frontend.temporal.svc.cluster.local:7236');
  });

  it('NetworkPolicies: only Jobplane’s API and workers, KEDA and Temporal reach the frontend; only Temporal reaches the rest', () => {
    const all = set.rendered.get(dir)!;
    const ns = (name: string, labels: Record<string, string> = {}): Pick<PodView, 'namespace' | 'namespaceLabels'> => ({ namespace: name, namespaceLabels: { 'kubernetes.io/metadata.name': name, ...labels } });
    const temporalPod = (kind: string): PodView => {
      const w = workloads(all).find((x) => isTemporalObject(x) && component(x) === kind)!;
      return { ...ns('temporal'), labels: w.spec.template.metadata!.labels!, ports: portsOf(w.spec.template.spec.containers[0]!) };
    };
    const jobplane = (kind: string): PodView => ({ ...ns('jobplane'), labels: { 'app.kubernetes.io/name': 'jobplane', 'app.kubernetes.io/part-of': 'jobplane', 'app.kubernetes.io/component': kind } });
    const keda: PodView = { ...ns('keda'), labels: { app: 'keda-operator' } };
    const ingress: PodView = { ...ns('ingress-nginx', { 'jobplane.dev/ingress': 'true' }), labels: { app: 'ingress-nginx' } };
    const stranger: PodView = { ...ns('default'), labels: { app: 'anything' } };
    const servers = ['frontend', 'internal-frontend', 'history', 'matching', 'worker'];
    const allowed = (from: PodView, to: string, port: string) => ingressAllowed(all, from, temporalPod(to), temporalPod(to).ports![port]!);

    for (const from of [jobplane('api'), jobplane('worker'), keda, temporalPod('web-ui'), ...servers.map(temporalPod)]) {
      expect(allowed(from, 'frontend', 'grpc'), `${from.namespace}/${from.labels['app.kubernetes.io/component'] ?? from.labels.app} → frontend`).toBe(true);
    }
    for (const from of [jobplane('migrate'), stranger, ingress, temporalPod('schema')]) expect(allowed(from, 'frontend', 'grpc')).toBe(false);
    for (const to of servers) {
      for (const from of servers) expect(allowed(temporalPod(from), to, 'membership'), `${from} → ${to} membership`).toBe(true);
      for (const from of [jobplane('api'), jobplane('worker'), keda, temporalPod('web-ui'), stranger]) expect(allowed(from, to, 'membership'), `→ ${to} membership`).toBe(false);
      if (to !== 'frontend') for (const from of [jobplane('api'), keda, temporalPod('web-ui')]) expect(allowed(from, to, 'grpc'), `→ ${to} grpc`).toBe(false);
    }
    expect(allowed(temporalPod('setup'), 'internal-frontend', 'grpc')).toBe(true);
    expect(allowed(temporalPod('setup'), 'history', 'grpc')).toBe(false);
    expect(allowed(ingress, 'web-ui', 'http')).toBe(true);
    for (const from of [jobplane('api'), keda, stranger]) expect(allowed(from, 'web-ui', 'http')).toBe(false);
  });
});

describe(`overlay ${overlay}`, () => {
  const objects = () => set.rendered.get(overlay)!;
  const frontend = () => named<Service>(objects(), 'Service', 'temporal-frontend')!;
  const frontendAddress = () => `${frontend().metadata.name}.${frontend().metadata.namespace}.svc.cluster.local:${frontend().spec.ports.find((p) => p.name === 'grpc')!.port}`;
  const jobplane = () => deployments(objects()).filter((d) => !isTemporalObject(d));

  it('Jobplane’s API and workers dial the frontend Service, with the JWT and the CA its TLS and authorizer want', () => {
    expect(jobplane().length).toBeGreaterThanOrEqual(4);
    for (const d of jobplane()) {
      const c = d.spec.template.spec.containers[0]!;
      const config = loadConfig(effectiveEnv(objects(), c));
      expect(config.temporalAddress, d.metadata.name).toBe(frontendAddress());
      expect(config.temporalApiKey, `${d.metadata.name} sends a token`).toBeTruthy();
      const ca = config.temporalTlsServerCaCertPath!;
      const mount = c.volumeMounts?.find((m) => m.mountPath === path.posix.dirname(ca));
      const secret = d.spec.template.spec.volumes?.find((v) => v.name === mount?.name)?.secret?.secretName;
      expect(Object.keys(named(objects(), 'Secret', secret ?? '')?.data ?? {}), `${d.metadata.name}: ${ca}`).toContain(path.posix.basename(ca));
    }
    const setupNamespace = effectiveEnv(objects(), ofKind<Workload>(objects(), 'Job').find((j) => component(j) === 'setup')!.spec.template.spec.containers[0]!).TEMPORAL_NAMESPACE;
    expect(setupNamespace).toBe(loadConfig(effectiveEnv(objects(), jobplane()[0]!.spec.template.spec.containers[0]!)).temporalNamespace);
  });

  it('KEDA’s scalers read the backlog from the frontend Service, with the token and the CA', () => {
    const auths = ofKind<TriggerAuthentication>(objects(), 'TriggerAuthentication');
    const scaled = ofKind<ScaledObject>(objects(), 'ScaledObject');
    expect(scaled.length).toBeGreaterThanOrEqual(3);
    for (const so of scaled) {
      for (const t of so.spec.triggers) {
        expect(t.metadata.endpoint, so.metadata.name).toBe(frontendAddress());
        const auth = auths.find((a) => a.metadata.name === t.authenticationRef?.name)!;
        expect(auth.spec.secretTargetRef.map((r) => r.parameter).sort()).toEqual(['apiKey', 'ca']);
        for (const r of auth.spec.secretTargetRef) expect(Object.keys(named(objects(), 'Secret', r.name)?.data ?? {}), r.parameter).toContain(r.key);
      }
    }
  });

  it('the Web UI decodes through the Jobplane API’s codec endpoint, and the API answers CORS for the UI’s port-forward origin', () => {
    const ui = deployments(objects()).find((d) => component(d) === 'web-ui')!.spec.template.spec.containers[0]!;
    const env = effectiveEnv(objects(), ui);
    const api = loadConfig(effectiveEnv(objects(), jobplane().find((d) => d.metadata.name === 'jobplane-api')!.spec.template.spec.containers[0]!));
    const codec = new URL(env.TEMPORAL_CODEC_ENDPOINT!);
    expect(codec.origin).toBe(new URL(api.publicUrl).origin);
    expect(codec.pathname).toBe(`/codec/k/${env.JOBPLANE_UI_CODEC_KEY}`);
    const names = ui.env!.map((e) => e.name);
    expect(names.indexOf('JOBPLANE_UI_CODEC_KEY'), 'defined before $(JOBPLANE_UI_CODEC_KEY) is used').toBeLessThan(names.indexOf('TEMPORAL_CODEC_ENDPOINT'));
    const uiService = named<Service>(objects(), 'Service', 'temporal-web-ui')!;
    expect(api.temporalUiUrl).toBe(`http://localhost:${uiService.spec.ports[0]!.port}`);
    expect(env.TEMPORAL_CORS_ORIGINS).toBe(api.temporalUiUrl);
    expect(new URL(env.TEMPORAL_AUTH_CALLBACK_URL!).origin).toBe(api.temporalUiUrl);
    expect(env.TEMPORAL_ADDRESS).toBe(frontendAddress());
  });
});

describe(`${cluster}/server-config.template.yaml with the server binary`, () => {
  // Only when a Temporal server binary is already here (npm run test:cluster builds it); never built for this check.
  const binary = [process.env.TEMPORAL_SERVER_BIN, path.join(BIN_DIR, `temporal-server-${TEMPORAL_SERVER_VERSION}`)].find((f) => f && existsSync(f));
  it.skipIf(!binary)('renders into a config the server accepts for every Deployment’s environment', async () => {
    for (const { d, env, template } of serverConfigs(set, temporalObjects(overlay))) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-config-'));
      try {
        mkdirSync(path.join(dir, 'config'));
        writeFileSync(path.join(dir, 'config', 'production.yaml'), template);
        const { stdout } = await promisify(execFile)(binary!, ['--env', 'production', '--config', path.join(dir, 'config'), 'render-config'], { env: { PATH: process.env.PATH, ...env } });
        expect(stdout, d.metadata.name).toMatch(/numHistoryShards: 512/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
