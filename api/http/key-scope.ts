/**
 * Scoped API keys: on top of its role, a key may be confined to some job
 * types, to jobs carrying some labels, and to some of the actions its role
 * allows (db/schema/api-keys.ts stores the scope; `callerForKey` reads it
 * with the key). Every rule lives here so the routes stay one call each:
 *
 * - {@link authorize}: the role, then the scope's `actions` (403 `scope-forbidden`);
 * - {@link requireUnscoped}: tenant-wide routes (settings, ops views) refuse any scoped key (403);
 * - {@link assertJobVisible} / {@link assertScheduleVisible}: a job or schedule outside the
 *   scope answers 404 exactly like an unknown id, so a scoped key cannot probe ids;
 * - {@link assertCreateInScope}: a create (job or schedule) of another type, or without the
 *   scope's labels, is refused (403) before anything is written;
 * - {@link jobScopeConditions}: what lists filter on, in SQL.
 *
 * Each refusal is a {@link ScopeRefusal}: the response is the plain problem, and the
 * audit middleware (api/app.ts) writes one `scope.refused` record from what it carries.
 */
import { and, arrayContains, inArray, type SQL } from 'drizzle-orm';
import { batchRun, documentIngest } from '../../contracts/index.ts';
import type { AuditEntry } from '../../db/audit.ts';
import { apiKeyScopeActions, jobs, type ApiKeyRole, type ApiKeyScope, type ApiKeyScopeAction } from '../../db/schema/index.ts';
import { roleAllows } from './api-keys.ts';
import { requireRole, type Caller, type TenantCaller } from './auth.ts';
import { ProblemError } from './problems.ts';

/**
 * The actions a scope may list, one per kind of route (docs/API.md has the
 * route table): `read` covers every GET of jobs, schedules, documents and the
 * catalog (and job diagnosis, which also needs the operator role).
 */
export const scopeActions = apiKeyScopeActions;
export type ScopeAction = ApiKeyScopeAction;

/** The least role whose routes take each action: a scope may only list actions its key's role allows. */
export const actionRoles: Record<ScopeAction, ApiKeyRole> = {
  read: 'viewer',
  create: 'submitter',
  signal: 'submitter',
  update: 'submitter',
  cancel: 'submitter',
  schedule: 'submitter',
  'document-delete': 'submitter',
  reset: 'operator',
  terminate: 'operator',
  retry: 'operator',
  'legal-hold': 'operator',
};

export type KeyScope = ApiKeyScope;

/** What an audit record of a refusal says beyond the route (api/app.ts writes it). */
export interface RefusalDetail {
  reason: string;
  jobId?: string;
  jobType?: string;
  scheduleId?: string;
}

/**
 * Thrown when a key's scope refuses a request: as `scope-forbidden` (403) for an
 * action or route outside it, as `not-found` (404, the very body an unknown id
 * gets) for a job or schedule outside it. `refusal` never reaches the response.
 */
export class ScopeRefusal extends ProblemError {
  override name = 'ScopeRefusal';
  constructor(
    slug: 'scope-forbidden' | 'not-found',
    detail: string,
    readonly refusal: RefusalDetail,
  ) {
    super(slug, detail);
  }
}

/**
 * The `scope.refused` audit record of a refusal: one row, `denied`, naming the
 * key, the route and what was refused (the job, its type, the reason).
 */
export function refusalAuditEntry(caller: TenantCaller, err: ScopeRefusal, req: { method: string; route: string; path: string; requestId: string | null; status: number }): AuditEntry {
  const { reason, jobId, jobType, scheduleId } = err.refusal;
  return {
    tenantId: caller.tenantId,
    actorKeyId: caller.keyId,
    action: 'scope.refused',
    target: jobId ?? scheduleId ?? req.path,
    requestId: req.requestId,
    detail: { route: `${req.method} ${req.route}`, path: req.path, status: req.status, reason, ...(jobId ? { jobId } : {}), ...(jobType ? { jobType } : {}), ...(scheduleId ? { scheduleId } : {}), scope: caller.scope },
  };
}

/** A scope with nothing in it narrows nothing: stored and read as no scope. */
export function normalizeScope(scope: ApiKeyScope | null | undefined): KeyScope | undefined {
  if (!scope) return undefined;
  const out: KeyScope = {};
  if (scope.jobTypes) out.jobTypes = [...new Set(scope.jobTypes)];
  if (scope.labels) out.labels = [...new Set(scope.labels)];
  if (scope.actions) out.actions = [...new Set(scope.actions)];
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Problems with a scope for a key of `role` (empty: valid), as field errors under `scope`. */
export function scopeErrors(role: ApiKeyRole, scope: { jobTypes?: string[]; labels?: string[]; actions?: string[] }, knownTypes: readonly string[]): { path: string; message: string }[] {
  if (role === 'codec') return [{ path: 'scope', message: 'a codec key cannot be scoped: the codec endpoint cannot tell which job a payload belongs to' }];
  const errors: { path: string; message: string }[] = [];
  scope.jobTypes?.forEach((type, i) => {
    if (!knownTypes.includes(type)) errors.push({ path: `scope.jobTypes.${i}`, message: `unknown job type "${type}"; must be one of: ${knownTypes.join(', ')}` });
  });
  scope.actions?.forEach((action, i) => {
    const needed = actionRoles[action as ScopeAction];
    if (!needed) errors.push({ path: `scope.actions.${i}`, message: `unknown action "${action}"; must be one of: ${scopeActions.join(', ')}` });
    else if (!roleAllows(role, needed)) errors.push({ path: `scope.actions.${i}`, message: `${action} needs the ${needed} role; the key is ${role}` });
  });
  return errors;
}

const describeScope = (scope: KeyScope) =>
  [scope.jobTypes && `types ${scope.jobTypes.join(', ')}`, scope.labels && `labels ${scope.labels.join(', ')}`, scope.actions && `actions ${scope.actions.join(', ')}`]
    .filter(Boolean)
    .join('; ');

/** The tenant caller if its role includes `role` and its scope (if any) lists `action`; 403 otherwise. */
export function authorize(caller: Caller, role: ApiKeyRole, action: ScopeAction): TenantCaller {
  const tenant = requireRole(caller, role);
  const actions = tenant.scope?.actions;
  if (actions && !actions.includes(action)) {
    throw new ScopeRefusal('scope-forbidden', `this key is scoped to ${describeScope(tenant.scope!)}: ${action} is not among its actions`, { reason: `action ${action} outside the scope` });
  }
  return tenant;
}

/** 403 for a scoped key: tenant-wide settings and ops views are for unscoped keys only (least privilege). */
export function requireUnscoped(caller: Caller, what: string): void {
  if (caller.kind === 'tenant' && caller.scope) {
    throw new ScopeRefusal('scope-forbidden', `${what} are tenant-wide; a scoped key (${describeScope(caller.scope)}) cannot use them`, { reason: `tenant-wide route (${what})` });
  }
}

/** Why a job of `type` with `labels` is outside `scope`, or undefined when it is inside. */
export function outsideScope(scope: KeyScope | undefined, type: string, labels: readonly string[]): string | undefined {
  if (!scope) return undefined;
  if (scope.jobTypes && !scope.jobTypes.includes(type)) return `job type ${type} outside the scope`;
  const missing = scope.labels?.filter((l) => !labels.includes(l)) ?? [];
  if (missing.length > 0) return `label${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing`;
  return undefined;
}

/** 404 (the body an unknown id gets) for a job outside the caller's scope. */
export function assertJobVisible(caller: TenantCaller, row: { id: string; type: string; labels: string[] }): void {
  const reason = outsideScope(caller.scope, row.type, row.labels);
  if (reason) throw new ScopeRefusal('not-found', `no job ${row.id}`, { reason, jobId: row.id, jobType: row.type });
}

/** 404 (the body an unknown id gets) for a schedule whose jobs are outside the caller's scope. */
export function assertScheduleVisible(caller: TenantCaller, scheduleId: string, schedule: { type: string; labels: string[] }): void {
  const reason = outsideScope(caller.scope, schedule.type, schedule.labels);
  if (reason) throw new ScopeRefusal('not-found', `no schedule ${scheduleId}`, { reason, scheduleId, jobType: schedule.type });
}

/**
 * 403 for a create (a job, or a schedule that will create jobs) outside the
 * scope: another type, or without every label of the scope. Refused rather
 * than given the labels silently: the caller learns its request was not what
 * its key may make.
 */
export function assertCreateInScope(caller: TenantCaller, type: string, labels: readonly string[] = []): void {
  const reason = outsideScope(caller.scope, type, labels);
  if (reason) {
    throw new ScopeRefusal('scope-forbidden', `this key is scoped to ${describeScope(caller.scope!)}: it cannot create this (${reason})`, { reason, jobType: type });
  }
}

/**
 * Documents run `document.ingest` jobs, which carry no labels: a scope must
 * admit that type and name no labels for its key to use document routes.
 */
export function requireDocumentScope(caller: TenantCaller): void {
  const reason = outsideScope(caller.scope, documentIngest.type, []);
  if (reason) throw new ScopeRefusal('scope-forbidden', `documents run ${documentIngest.type} jobs, which this key's scope (${describeScope(caller.scope!)}) does not admit`, { reason });
}

/** Stored batch item lists feed `batch.run` jobs: a scope must admit that type for its key to store or read them. */
export function requireBatchInputScope(caller: TenantCaller): void {
  if (caller.scope?.jobTypes && !caller.scope.jobTypes.includes(batchRun.type)) {
    throw new ScopeRefusal('scope-forbidden', `batch item lists feed ${batchRun.type} jobs, which this key's scope does not admit`, { reason: `job type ${batchRun.type} outside the scope` });
  }
}

/** The job types a caller may see (every one for an unscoped key). */
export function visibleTypes<T extends { type: string }>(caller: TenantCaller, types: readonly T[]): T[] {
  const allowed = caller.scope?.jobTypes;
  return allowed ? types.filter((t) => allowed.includes(t.type)) : [...types];
}

/** SQL conditions on `jobs` that keep a list to what the caller's scope admits (none for an unscoped key). */
export function jobScopeConditions(caller: TenantCaller): SQL[] {
  const scope = caller.scope;
  if (!scope) return [];
  const conditions: (SQL | undefined)[] = [];
  if (scope.jobTypes) conditions.push(inArray(jobs.type, scope.jobTypes));
  // `@>` on the GIN-indexed labels column: the job carries every label of the scope.
  if (scope.labels) conditions.push(arrayContains(jobs.labels, scope.labels));
  const all = and(...conditions);
  return all ? [all] : [];
}
