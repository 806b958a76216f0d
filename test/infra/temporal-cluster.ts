/**
 * What temporal-cluster-manifests.test.ts reads of the rendered Temporal
 * cluster: the shapes of the objects (schema-validated first), each
 * container's effective environment, and each server process's config as the
 * server renders its template.
 */
import path from 'node:path';
import { ofKind, type K8sObject, type RenderedSet } from './kubernetes.ts';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
export interface Probe { grpc?: { port: number; service?: string }; httpGet?: { path: string; port: number | string; scheme?: string }; tcpSocket?: { port: number | string } }
export interface Container {
  name: string;
  image: string;
  command?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; privileged?: boolean; capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface Volume { name: string; configMap?: { name: string }; secret?: { secretName: string; items?: { key: string; path: string }[] }; emptyDir?: object }
export interface PodSpec {
  containers: Container[];
  automountServiceAccountToken?: boolean;
  enableServiceLinks?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
  volumes?: Volume[];
}
export interface Workload extends K8sObject { spec: { replicas?: number; template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec }; strategy?: { rollingUpdate?: { maxSurge?: number } } } }
export interface Service extends K8sObject { spec: { type?: string; clusterIP?: string; publishNotReadyAddresses?: boolean; selector: Record<string, string>; ports: { name?: string; port: number; targetPort?: number | string; nodePort?: number }[] } }
export interface ScaledObject extends K8sObject { spec: { triggers: { metadata: Record<string, string>; authenticationRef?: { name: string } }[] } }
export interface TriggerAuthentication extends K8sObject { spec: { secretTargetRef: { parameter: string; name: string; key: string }[] } }

/** The server config, as far as the assertions read it. */
export interface ServerConfig {
  persistence: { numHistoryShards: number; defaultStore: string; visibilityStore: string; datastores: Record<string, { sql: { pluginName: string; databaseName: string; maxConns: number; maxIdleConns: number; user: string; password: string } }> };
  global: {
    membership: { broadcastAddress: string };
    tls: { frontend: { server: { certFile: string; keyFile: string } } };
    authorization: { authorizer: string; claimMapper: string; permissionsClaimName: string; jwtKeyProvider: { keySourceURIs: string[] } };
  };
  services: Record<string, { rpc: { grpcPort: number; membershipPort: number; httpPort?: number; bindOnIP: string } }>;
  publicClient?: unknown;
  dynamicConfigClient: { filepath: string };
}

export const deployments = (objects: K8sObject[]) => ofKind<Workload>(objects, 'Deployment');
export const workloads = (objects: K8sObject[]) => [...deployments(objects), ...ofKind<Workload>(objects, 'Job')];
export const component = (w: Workload) => w.spec.template.metadata?.labels?.['app.kubernetes.io/component'] ?? '';
export const isServer = (w: Workload) => w.spec.template.metadata?.labels?.['jobplane.dev/temporal-server'] === 'true';
/** The object of this kind and name, or of its generated (hash-suffixed) name. */
export const named = <T extends K8sObject>(objects: K8sObject[], kind: string, name: string) =>
  ofKind<T>(objects, kind).find((o) => o.metadata.name === name || new RegExp(`^${name}-[a-z0-9]{10}$`).test(o.metadata.name));
export const portsOf = (c: Container) => Object.fromEntries((c.ports ?? []).map((p) => [p.name ?? '', p.containerPort]));
export const samplePodIp = '10.20.30.40';

/** What the container sees: envFrom, env (secrets decoded when the set holds them, a marker otherwise), `$(VAR)` expanded. */
export function effectiveEnv(objects: K8sObject[], c: Container): Record<string, string> {
  const data = (kind: string, name: string, key: string): string | undefined => {
    const o = named(objects, kind, name);
    const v = o?.data?.[key];
    if (v === undefined) return kind === 'Secret' && !o ? `<secret ${name}/${key}>` : undefined;
    return kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : v;
  };
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) Object.assign(env, named(objects, 'ConfigMap', from.configMapRef!.name)?.data);
  for (const e of c.env ?? []) {
    const { secretKeyRef: s, configMapKeyRef: m, fieldRef: f } = e.valueFrom ?? {};
    const value = e.value?.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole)
      ?? (s ? data('Secret', s.name, s.key) : m ? data('ConfigMap', m.name, m.key) : f?.fieldPath === 'status.podIP' ? samplePodIp : undefined);
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

/**
 * The server's own rendering (Go text/template + sprig) of the subset the
 * template is allowed to use: `env "X"`, then `| default "v"` and `| toJson`.
 * Anything else in `{{ }}` fails the test: a construct this renderer does not
 * model would make the assertions below unsound.
 */
export function renderTemplate(template: string, env: Record<string, string>): string {
  return template.replace(/\{\{(.*?)\}\}/g, (whole, body: string) => {
    const [head, ...pipes] = body.trim().split('|').map((s) => s.trim());
    const name = /^env "([A-Z_][A-Z0-9_]*)"$/.exec(head!)?.[1];
    if (!name) throw new Error(`unsupported template expression ${whole}`);
    let value = env[name] ?? '';
    for (const pipe of pipes) {
      const fallback = /^default "([^"]*)"$/.exec(pipe)?.[1];
      if (fallback !== undefined) value = value === '' ? fallback : value;
      else if (pipe === 'toJson') value = JSON.stringify(value);
      else throw new Error(`unsupported template function ${pipe} in ${whole}`);
    }
    return value;
  });
}

/** Each server Deployment with its rendered config (the file its `--config`/`--env` arguments name, read from the mounted ConfigMap). */
export function serverConfigs(set: RenderedSet, objects: K8sObject[]) {
  return deployments(objects).filter(isServer).map((d) => {
    const pod = d.spec.template.spec;
    const c = pod.containers[0]!;
    const args = c.command ?? [];
    const flag = (f: string) => args[args.indexOf(f) + 1]!;
    const configDir = path.posix.join(flag('--root'), flag('--config'));
    const mount = c.volumeMounts!.find((m) => m.mountPath === configDir)!;
    const configMap = named(objects, 'ConfigMap', pod.volumes!.find((v) => v.name === mount.name)!.configMap!.name)!;
    const template = configMap.data![`${flag('--env')}.yaml`]!;
    const env = effectiveEnv(objects, c);
    return { d, pod, c, service: flag('--service'), env, template, config: set.yaml.parse(renderTemplate(template, env)) as ServerConfig };
  });
}
