/**
 * Shared by the offline Kubernetes checks (manifests.test.ts,
 * temporal-cluster-manifests.test.ts): render kustomizations with the real
 * `kustomize`, and validate each object against the schema of its kind
 * (kubernetes-models for core kinds, @kubernetes-models/keda for KEDA's),
 * unknown fields included.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureInfraCheckPackages, ensureKustomize, kustomizeBuild } from '../../scripts/lib/kustomize.ts';

export const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface Meta { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
export interface K8sObject { apiVersion: string; kind: string; metadata: Meta; data?: Record<string, string>; type?: string; spec?: unknown }

type ValidateFn = (this: unknown) => void;
interface YamlModule { parseAllDocuments(source: string): { toJS(): unknown }[]; parse(source: string): unknown }

/** What `renderKustomizations` returns. */
export interface RenderedSet {
  /** Objects of each kustomization, by directory relative to the repo root. */
  rendered: Map<string, K8sObject[]>;
  /** The infra/check `yaml` package (the tests parse the files the objects carry with it). */
  yaml: YamlModule;
  /** The schema validator of an apiVersion/kind; throws when none is known. */
  validatorFor(apiVersion: string, kind: string): Promise<ValidateFn>;
}

/**
 * `kustomize build` of each directory. The first run on a fresh machine
 * provisions kustomize (`go install`, about a minute) and infra/check (`npm ci`).
 */
export async function renderKustomizations(dirs: string[]): Promise<RenderedSet> {
  const [kustomize, modelsDir] = await Promise.all([ensureKustomize(), ensureInfraCheckPackages()]);
  const yaml = (await import(pathToFileURL(path.join(modelsDir, 'yaml/dist/index.js')).href)) as YamlModule;
  const rendered = new Map<string, K8sObject[]>();
  for (const dir of dirs) {
    const text = await kustomizeBuild(kustomize, path.join(repoRoot, dir));
    rendered.set(dir, yaml.parseAllDocuments(text).map((d) => d.toJS() as K8sObject));
  }
  const validatorFor = async (apiVersion: string, kind: string): Promise<ValidateFn> => {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const entry = group === 'keda.sh' ? `@kubernetes-models/keda/keda.sh/${version}/index.js` : `kubernetes-models/${group ? `${group}/` : ''}${version}/index.js`;
    const mod = (await import(pathToFileURL(path.join(modelsDir, entry)).href)) as Record<string, { prototype: { validate: ValidateFn } } | undefined>;
    const model = mod[kind];
    if (!model) throw new Error(`no schema for ${apiVersion} ${kind}`);
    return model.prototype.validate;
  };
  return { rendered, yaml, validatorFor };
}

/**
 * Validates `obj` and lists the fields the schema does not know: the generated
 * validators read every property their schema declares (maps included), so a
 * property they never read is not in the schema (`readinesProbe`, say). The
 * API server rejects such fields under `kubectl apply`'s strict validation.
 */
export function validateStrict(validate: ValidateFn, obj: K8sObject): { error?: string; unknown: string[] } {
  const seen = new Set<string>();
  const track = (value: unknown, at: string): unknown =>
    value === null || typeof value !== 'object'
      ? value
      : new Proxy(value, {
          get(target, key, receiver) {
            const v: unknown = Reflect.get(target, key, receiver);
            if (typeof key !== 'string' || !Object.hasOwn(target, key)) return v;
            seen.add(`${at}/${key}`);
            return track(v, `${at}/${key}`);
          },
        });
  const unread = (value: unknown, at: string): string[] =>
    value === null || typeof value !== 'object'
      ? []
      : Object.entries(value).flatMap(([k, v]) => (seen.has(`${at}/${k}`) ? unread(v, `${at}/${k}`) : [`${at}/${k}`]));
  try {
    validate.call(track(obj, ''));
  } catch (err) {
    return { error: (err as Error).message, unknown: [] };
  }
  return { unknown: unread(obj, '') };
}

/** Every schema error and unknown field of `objects`, as `Kind/name: problem` lines. */
export async function schemaProblems(set: RenderedSet, objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const rendered of objects) {
    // kustomize wraps long base64 values over lines; the API server's decoder skips line breaks, the schema's "byte" format does not.
    const obj = rendered.kind === 'Secret' ? { ...rendered, data: Object.fromEntries(Object.entries(rendered.data ?? {}).map(([k, v]) => [k, v.replace(/\s/g, '')])) } : rendered;
    const { error, unknown } = validateStrict(await set.validatorFor(obj.apiVersion, obj.kind), obj);
    if (error) problems.push(`${obj.kind}/${obj.metadata.name}: ${error}`);
    for (const field of unknown) problems.push(`${obj.kind}/${obj.metadata.name}: unknown field ${field}`);
  }
  return problems;
}

export const ofKind = <T extends K8sObject>(objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind) as T[];

/** True when every pair of a non-empty `selector` is in `labels`. */
export const matches = (selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Bytes of a Kubernetes quantity (`512Mi`, `2Gi`, `1G`). */
export function bytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!m) throw new Error(`unsupported quantity ${quantity}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

/** Objects of Temporal's cluster (infra/k8s/temporal labels all of them `app.kubernetes.io/part-of: temporal`). */
export const isTemporalObject = (o: K8sObject) => o.metadata.labels?.['app.kubernetes.io/part-of'] === 'temporal';

// --- NetworkPolicy evaluation ------------------------------------------------------------------

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}
interface PolicyPeer { podSelector?: LabelSelector; namespaceSelector?: LabelSelector; ipBlock?: unknown }
interface NetworkPolicy extends K8sObject {
  spec: { podSelector: LabelSelector; policyTypes?: string[]; ingress?: { from?: PolicyPeer[]; ports?: { port?: number | string; protocol?: string }[] }[] };
}

/** Kubernetes label-selector semantics: every matchLabels pair and every expression must hold (an empty selector selects all). */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string> = {}): boolean {
  if (!selector) return false;
  const pairs = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const expressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In': return key in labels && values.includes(labels[key]!);
      case 'NotIn': return !(key in labels) || !values.includes(labels[key]!);
      case 'Exists': return key in labels;
      case 'DoesNotExist': return !(key in labels);
    }
  });
  return pairs && expressions;
}

/** A pod as NetworkPolicies see it: its namespace (with that namespace's labels), its labels, its named ports. */
export interface PodView { namespace: string; namespaceLabels: Record<string, string>; labels: Record<string, string>; ports?: Record<string, number> }

/**
 * Whether the NetworkPolicies of `to`'s namespace admit a TCP connection from
 * `from` to `to` on `port`: allowed when no policy with Ingress selects the
 * pod, else when some ingress rule of such a policy matches both the peer and
 * the port (named ports resolve against `to`'s container ports).
 */
export function ingressAllowed(objects: K8sObject[], from: PodView, to: PodView, port: number): boolean {
  const policies = ofKind<NetworkPolicy>(objects, 'NetworkPolicy').filter(
    (p) => p.metadata.namespace === to.namespace && selects(p.spec.podSelector, to.labels) && (p.spec.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
  if (policies.length === 0) return true;
  const peerMatches = (peer: PolicyPeer) => {
    if (peer.ipBlock) return false;
    const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, from.namespaceLabels) : from.namespace === to.namespace;
    const podOk = peer.podSelector ? selects(peer.podSelector, from.labels) : true;
    return nsOk && podOk;
  };
  const portMatches = (p: { port?: number | string; protocol?: string }) =>
    (p.protocol ?? 'TCP') === 'TCP' && (p.port === undefined || (typeof p.port === 'number' ? p.port === port : to.ports?.[p.port] === port));
  return policies.some((p) => (p.spec.ingress ?? []).some((rule) => (rule.from ?? [{ podSelector: {} , namespaceSelector: {} }]).some(peerMatches) && (rule.ports ?? [{}]).some(portMatches)));
}
