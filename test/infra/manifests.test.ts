/**
 * Kubernetes manifests, offline: every kustomization under infra/k8s renders
 * with the real `kustomize`, every object validates against the schema of its
 * kind (kubernetes-models for core kinds, @kubernetes-models/keda for the KEDA
 * ScaledObject; both generated from the upstream OpenAPI/CRD types) with no
 * unknown field, and the pieces agree with each other and with the app: the
 * config each process gets is one `loadConfig` accepts, every worker
 * Deployment has a ScaledObject watching the queues it polls, grace periods
 * cover the drain, heaps fit the memory limits, pods run as the image's
 * non-root user. The self-hosted overlay also deploys a Temporal cluster:
 * its objects are left out here and checked by
 * temporal-cluster-manifests.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { catalogTaskQueues } from '../../contracts/index.ts';
import { loadConfig, settings, type Config } from '../../runtime/config.ts';
import { codecFrom, taskQueueName } from '../../runtime/temporal.ts';
import { selectedTaskQueues } from '../../workers/create-workers.ts';
import { bytes, isTemporalObject, matches, ofKind, renderKustomizations, schemaProblems, validateStrict, type K8sObject, type RenderedSet } from './kubernetes.ts';

const root = path.resolve(import.meta.dirname, '../..');
const kustomizations = ['infra/k8s/base', 'infra/k8s/overlays/dev', 'infra/k8s/overlays/cloud', 'infra/k8s/overlays/self-hosted'];
const overlays = kustomizations.filter((k) => k.includes('/overlays/'));

// --- shapes read by the assertions (objects are schema-validated first) ----------------------

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean }; configMapKeyRef?: { name: string; key: string; optional?: boolean } };
}
interface Probe { httpGet?: { path: string; port: number | string } }
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: { name: string; emptyDir?: object; secret?: { secretName: string } }[];
}
interface Workload extends K8sObject { spec: { replicas?: number; selector?: { matchLabels?: Record<string, string> }; template: { metadata?: K8sObject['metadata']; spec: PodSpec } } }
interface ScaledObject extends K8sObject {
  spec: {
    scaleTargetRef: { name: string; kind?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    advanced?: { horizontalPodAutoscalerConfig?: { behavior?: { scaleDown?: { stabilizationWindowSeconds?: number } } } };
    triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string; kind?: string } }[];
  };
}
interface TriggerAuthentication extends K8sObject { spec: { secretTargetRef?: { parameter: string; name: string; key: string }[] } }
interface Pdb extends K8sObject { spec: { selector: { matchLabels?: Record<string, string> } } }
interface Service extends K8sObject { spec: { selector: Record<string, string>; ports: { targetPort?: number | string }[] } }

// --- the image's defaults (infra/Dockerfile, last stage) --------------------------------------

const dockerfile = readFileSync(path.join(root, 'infra/Dockerfile'), 'utf8');
const runtimeStage = dockerfile.replace(/\\\n/g, ' ').split(/^FROM /m).at(-1) ?? '';
const imageEnv: Record<string, string> = Object.fromEntries(
  [...(/^ENV (.+)$/m.exec(runtimeStage)?.[1] ?? '').matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)].map((m) => [m[1], m[2]!.replace(/^"|"$/g, '')]),
);
const imageUid = Number(/^USER (\d+)/m.exec(runtimeStage)?.[1]);

// --- rendering and validation ----------------------------------------------------------------

let set: RenderedSet;
/** Jobplane's objects of each kustomization (a self-hosted Temporal cluster's are left out). */
let rendered: Map<string, K8sObject[]>;

beforeAll(async () => {
  set = await renderKustomizations(kustomizations);
  rendered = new Map([...set.rendered].map(([dir, objects]) => [dir, objects.filter((o) => !isTemporalObject(o))]));
}, 15 * 60_000);

// --- helpers over a rendered set -------------------------------------------------------------

const workloads = (objects: K8sObject[]) => [...ofKind<Workload>(objects, 'Deployment'), ...ofKind<Workload>(objects, 'Job')];
const isWorker = (w: Workload) => w.spec.template.spec.containers[0]?.args?.[0] === 'workers';

/** What the process in `c` sees: image ENV, then envFrom, then env; secrets decoded when the set holds them. */
function effectiveEnv(objects: K8sObject[], c: Container): { env: Record<string, string>; missing: string[] } {
  const env: Record<string, string> = { ...imageEnv };
  const missing: string[] = [];
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
  const dataOf = (kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> | undefined => {
    const o = find(kind, name);
    if (!o) return undefined;
    const data = o.data ?? {};
    return kind === 'Secret' ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) : data;
  };
  for (const from of c.envFrom ?? []) {
    const [kind, name] = from.configMapRef ? (['ConfigMap', from.configMapRef.name] as const) : (['Secret', from.secretRef!.name] as const);
    const data = dataOf(kind, name);
    if (data) Object.assign(env, data);
    else missing.push(`${kind} ${name}`);
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
    if (!ref) continue;
    const value = dataOf(e.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name)?.[ref.key];
    if (value !== undefined) env[e.name] = value;
    else if (!ref.optional) missing.push(`${ref.name}/${ref.key} (${e.name})`);
  }
  return { env, missing };
}

const heapMiB = (env: Record<string, string>) => Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS ?? '')?.[1]);
const portOf = (address: string) => Number(address.slice(address.lastIndexOf(':') + 1));
function probePort(c: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Temporal scaler metadata keys KEDA knows (pkg/scalers/temporal_scaler.go, v2.17+). */
const temporalScalerKeys = new Set([
  'endpoint', 'endpointFromEnv', 'namespace', 'namespaceFromEnv', 'taskQueue', 'taskQueueFromEnv', 'targetQueueSize',
  'activationTargetQueueSize', 'queueTypes', 'buildId', 'workerDeploymentName', 'workerDeploymentBuildId', 'selectAllActive',
  'selectUnversioned', 'minConnectTimeout', 'unsafeSsl', 'tlsServerName',
]);

// --- the tests -------------------------------------------------------------------------------

describe.each(kustomizations)('kustomize build %s', (dir) => {
  const objects = () => rendered.get(dir)!;

  it('renders the API, a worker Deployment per queue class, their PDBs and ScaledObjects, and the migration Job', () => {
    const names = objects().map((o) => `${o.kind}/${o.metadata.name}`);
    expect(names).toEqual(expect.arrayContaining(['Deployment/jobplane-api', 'Service/jobplane-api', 'Job/jobplane-migrate']));
    expect(ofKind(objects(), 'Namespace')).toHaveLength(1);
    expect(workloads(objects()).filter(isWorker).length).toBeGreaterThanOrEqual(2);
    expect(ofKind(objects(), 'ScaledObject').length).toBe(workloads(objects()).filter(isWorker).length);
  });

  it('every object validates against the schema of its kind, with no unknown field', async () => {
    expect(await schemaProblems(set, objects())).toEqual([]);
  });

  it('the strict validation catches a misspelt field and a wrong type', async () => {
    const api = structuredClone(workloads(objects()).find((w) => w.metadata.name === 'jobplane-api')!);
    const container = api.spec.template.spec.containers[0]! as Container & { readinesProbe?: unknown };
    container.readinesProbe = container.readinessProbe;
    (api.spec as { replicas: unknown }).replicas = 'two';
    const validate = await set.validatorFor(api.apiVersion, api.kind);
    expect(validateStrict(validate, api).error).toMatch(/replicas must be integer/);
    (api.spec as { replicas: unknown }).replicas = 2;
    expect(validateStrict(validate, api).unknown).toEqual(['/spec/template/spec/containers/0/readinesProbe']);
    const so = structuredClone(ofKind<ScaledObject>(objects(), 'ScaledObject')[0]!);
    (so.spec.triggers[0]!.metadata as Record<string, unknown>).targetQueueSize = 5;
    expect(validateStrict(await set.validatorFor(so.apiVersion, so.kind), so).error).toMatch(/targetQueueSize must be string/);
  });

  it('every worker Deployment has one ScaledObject whose temporal triggers watch exactly the queues it polls', () => {
    const scaled = ofKind<ScaledObject>(objects(), 'ScaledObject');
    const polled: string[] = [];
    for (const worker of workloads(objects()).filter(isWorker)) {
      const container = worker.spec.template.spec.containers[0]!;
      const { env } = effectiveEnv(objects(), container);
      const config = loadConfig(env);
      expect(config.workerTaskQueues, `${worker.metadata.name} sets JOBPLANE_WORKER_TASK_QUEUES`).not.toBe('');
      const queues = selectedTaskQueues(config); // what the process polls; throws on a queue the catalog lacks
      polled.push(...queues);
      expect(worker.spec.replicas, `${worker.metadata.name}: KEDA owns the replica count`).toBeUndefined();

      const mine = scaled.filter((s) => s.spec.scaleTargetRef.name === worker.metadata.name && (s.spec.scaleTargetRef.kind ?? 'Deployment') === 'Deployment');
      expect(mine, `ScaledObjects of ${worker.metadata.name}`).toHaveLength(1);
      const so = mine[0]!;
      const triggers = so.spec.triggers.filter((t) => t.type === 'temporal');
      expect(triggers.length).toBe(so.spec.triggers.length);
      expect(triggers.map((t) => t.metadata.taskQueue).sort()).toEqual(queues.map((q) => taskQueueName(config, q)).sort());
      for (const { metadata } of triggers) {
        expect(Object.keys(metadata).filter((k) => !temporalScalerKeys.has(k))).toEqual([]);
        expect(metadata.endpoint).toBe(config.temporalAddress);
        expect(metadata.namespace).toBe(config.temporalNamespace);
        expect(new Set(metadata.queueTypes?.split(','))).toEqual(new Set(['activity', 'workflow']));
        // The ops API's recommendation (GET /v1/ops/task-queues) uses the same target as KEDA.
        expect(metadata.targetQueueSize).toBe(String(config.scaleTargetQueueSize));
        expect(metadata.activationTargetQueueSize).toMatch(/^\d+$/);
      }
      const { minReplicaCount = 0, maxReplicaCount = 100 } = so.spec;
      expect(minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(maxReplicaCount).toBeGreaterThanOrEqual(minReplicaCount);
      // A drained backlog reads 0 at once: without a window, KEDA would drop replicas between bursts.
      expect(so.spec.advanced?.horizontalPodAutoscalerConfig?.behavior?.scaleDown?.stabilizationWindowSeconds).toBeGreaterThanOrEqual(60);
    }
    // Every catalog queue has workers, and no queue is served by two classes.
    expect(polled.sort()).toEqual([...catalogTaskQueues].sort());
  });

  it('every Deployment has a PodDisruptionBudget, the Service selects the API pods', () => {
    const pdbs = ofKind<Pdb>(objects(), 'PodDisruptionBudget');
    for (const d of ofKind<Workload>(objects(), 'Deployment')) {
      const labels = d.spec.template.metadata?.labels;
      expect(pdbs.filter((p) => matches(p.spec.selector.matchLabels, labels)), `PDB of ${d.metadata.name}`).toHaveLength(1);
      expect(matches(d.spec.selector?.matchLabels, labels)).toBe(true);
    }
    const api = workloads(objects()).find((w) => w.metadata.name === 'jobplane-api')!;
    const service = ofKind<Service>(objects(), 'Service').find((s) => s.metadata.name === 'jobplane-api')!;
    expect(matches(service.spec.selector, api.spec.template.metadata?.labels)).toBe(true);
    const apiPorts = api.spec.template.spec.containers[0]!.ports ?? [];
    for (const { targetPort } of service.spec.ports) expect(apiPorts.some((p) => p.name === targetPort || p.containerPort === targetPort)).toBe(true);
  });

  it('pods run as the image user (non-root), read-only, without privileges', () => {
    expect(imageUid).toBeGreaterThan(0);
    for (const w of workloads(objects())) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, w.metadata.name).toBe(true);
      expect(pod.securityContext?.runAsUser, w.metadata.name).toBe(imageUid);
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        // tsx keeps its compile cache in the temp dir: it must be writable.
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir, `${w.metadata.name}: /tmp is an emptyDir`).toBeDefined();
        expect(['api', 'workers', 'migrate']).toContain(c.args?.[0]);
      }
    }
  });

  it('heaps fit the memory limits and grace periods cover the drain', () => {
    for (const w of workloads(objects())) {
      const pod = w.spec.template.spec;
      const c = pod.containers[0]!;
      const { env } = effectiveEnv(objects(), c);
      const limit = bytes(c.resources?.limits?.memory ?? '0') / 2 ** 20;
      const heap = heapMiB(env);
      expect(limit, `${w.metadata.name} memory limit`).toBeGreaterThan(0);
      expect(c.resources?.requests?.memory, `${w.metadata.name}: memory request = limit`).toBe(c.resources?.limits?.memory);
      // Workers keep workflow threads, the Rust core and sockets outside the V8 heap.
      const share = isWorker(w) ? 0.6 : 0.75;
      expect(heap, `${w.metadata.name}: --max-old-space-size ${heap} MiB of a ${limit} MiB limit`).toBeLessThanOrEqual(limit * share);
      expect(heap).toBeGreaterThanOrEqual(limit * 0.25);
      const grace = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
      if (isWorker(w)) {
        const { workerShutdownGraceMs } = loadConfig(env);
        expect(grace, `${w.metadata.name}: terminationGracePeriodSeconds vs JOBPLANE_WORKER_SHUTDOWN_GRACE_MS`).toBeGreaterThanOrEqual(workerShutdownGraceMs + 15_000);
      }
      if (c.args?.[0] === 'api') {
        const preStop = Number(c.lifecycle?.preStop?.exec?.command.at(-1) ?? 0) * 1000;
        // GET /v1/jobs/{id}/result long-polls for up to 60 s.
        expect(grace).toBeGreaterThanOrEqual(preStop + 60_000);
      }
    }
  });

  it('probes and scrape annotations point at the ports the processes bind', () => {
    for (const w of workloads(objects()).filter((x) => x.kind === 'Deployment')) {
      const c = w.spec.template.spec.containers[0]!;
      const config = loadConfig(effectiveEnv(objects(), c).env);
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
      if (isWorker(w)) {
        expect(config.workerHealthAddress).toMatch(/^0\.0\.0\.0:/);
        expect(config.workerMetricsAddress).toMatch(/^0\.0\.0\.0:/);
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) expect(probePort(c, probe)).toBe(portOf(config.workerHealthAddress));
        const annotations = w.spec.template.metadata?.annotations ?? {};
        expect(annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics', 'prometheus.io/port': String(portOf(config.workerMetricsAddress)) });
        expect(c.ports?.map((p) => p.containerPort)).toContain(portOf(config.workerMetricsAddress));
      } else {
        expect(config.host).toBe('0.0.0.0');
        for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probePort(c, probe)).toBe(config.port);
      }
    }
  });

  it('containers set only variables of the config table, and secrets only from jobplane-secrets', () => {
    const known = new Set([...Object.values(settings).map((s) => s.env), 'NODE_OPTIONS']);
    for (const w of workloads(objects())) {
      for (const c of w.spec.template.spec.containers) {
        for (const e of c.env ?? []) {
          expect(known.has(e.name), `${w.metadata.name}: ${e.name} is not in runtime/config.ts`).toBe(true);
          const ref = e.valueFrom?.secretKeyRef;
          if (ref) expect(ref.name).toMatch(/^jobplane-secrets(-[a-z0-9]+)?$/);
        }
      }
    }
    for (const cm of ofKind(objects(), 'ConfigMap')) {
      for (const key of Object.keys(cm.data ?? {})) expect(known.has(key), `ConfigMap ${cm.metadata.name}: ${key}`).toBe(true);
    }
  });
});

describe.each(overlays)('overlay %s', (dir) => {
  const objects = () => rendered.get(dir)!;

  it('processes and KEDA scalers reach Temporal with the same credentials (TLS files mounted from a Secret, API key)', () => {
    const secretKeys = (name: string) => Object.keys(objects().find((o) => o.kind === 'Secret' && o.metadata.name === name)?.data ?? {});
    let apiKeyInUse = false;
    let clientCertInUse = false;
    for (const w of ofKind<Workload>(objects(), 'Deployment')) {
      const pod = w.spec.template.spec;
      const c = pod.containers[0]!;
      const config = loadConfig(effectiveEnv(objects(), c).env);
      apiKeyInUse ||= Boolean(config.temporalApiKey);
      clientCertInUse ||= Boolean(config.temporalTlsClientCertPath);
      // Each certificate path is a key of a Secret mounted read-only at its directory.
      for (const file of [config.temporalTlsClientCertPath, config.temporalTlsClientKeyPath, config.temporalTlsServerCaCertPath]) {
        if (!file) continue;
        const mount = c.volumeMounts?.find((m) => path.posix.dirname(file) === m.mountPath);
        expect(mount?.readOnly, `${w.metadata.name}: ${file} is on a read-only mount`).toBe(true);
        const secretName = pod.volumes?.find((v) => v.name === mount!.name)?.secret?.secretName;
        expect(secretKeys(secretName ?? ''), `${w.metadata.name}: ${file} in Secret ${secretName}`).toContain(path.posix.basename(file));
      }
    }
    // A scaler without the workers' credentials would read no backlog and never scale.
    const auths = ofKind<TriggerAuthentication>(objects(), 'TriggerAuthentication');
    for (const so of ofKind<ScaledObject>(objects(), 'ScaledObject')) {
      for (const t of so.spec.triggers) {
        if (!apiKeyInUse && !clientCertInUse) {
          expect(t.authenticationRef, `${so.metadata.name}: plaintext needs no TriggerAuthentication`).toBeUndefined();
          continue;
        }
        const auth = auths.find((a) => a.metadata.name === t.authenticationRef?.name);
        expect(auth, `${so.metadata.name}: authenticationRef names a TriggerAuthentication in the set`).toBeDefined();
        const params = auth!.spec.secretTargetRef ?? [];
        for (const ref of params) expect(secretKeys(ref.name), `${auth!.metadata.name}: ${ref.parameter}`).toContain(ref.key);
        const names = params.map((p) => p.parameter);
        if (apiKeyInUse) expect(names).toContain('apiKey');
        if (clientCertInUse) expect(names).toEqual(expect.arrayContaining(['cert', 'key']));
      }
    }
  });

  it('pins the image to a registry and a tag or digest', () => {
    for (const w of workloads(objects())) {
      for (const c of w.spec.template.spec.containers) expect(c.image).toMatch(/^[^/]+\/.+(:(?!latest$)[\w.-]+|@sha256:[a-f0-9]{64})$/);
    }
  });

  it('gives every process a configuration it accepts', () => {
    for (const w of workloads(objects())) {
      const c = w.spec.template.spec.containers[0]!;
      const { env, missing } = effectiveEnv(objects(), c);
      expect(missing, `${w.metadata.name} references`).toEqual([]);
      let config: Config | undefined;
      expect(() => (config = loadConfig(env)), w.metadata.name).not.toThrow();
      expect(config!.databaseUrl).toMatch(/^postgres(ql)?:\/\//);
      if (c.args?.[0] !== 'migrate') expect(() => codecFrom(config!)).not.toThrow();
      if (c.args?.[0] === 'workers') expect(config!.webhookSigningSecret).toBeTruthy();
      if (c.args?.[0] === 'api') expect(config!.platformKey).toBeTruthy();
    }
  });
});
