/** `/v1/tenants` (platform key) and `/v1/tenants/{tenantId}/api-keys` (platform key or the tenant's admin). */
import { createRoute, z } from '@hono/zod-openapi';
import type { Db } from '../../db/client.ts';
import { requirePlatform, requireTenantAdmin, type Caller } from '../http/auth.ts';
import { normalizeScope, requireUnscoped, scopeErrors } from '../http/key-scope.ts';
import { jobCatalog } from '../../contracts/index.ts';
import { body, json, bearer, newRouter } from '../http/openapi-app.ts';
import { ProblemError } from '../http/problems.ts';
import { commonProblems, problemResponse } from '../http/schemas.ts';
import { ApiKey, ApiKeyParam, CreateApiKeyBody, CreatedApiKey, CreateTenantBody, Tenant, TenantIdParam } from './schemas.ts';
import { assertNameFree, assertTenantExists, createApiKey, createTenant, findApiKey, listApiKeys, listTenants, retentionDays, revokeApiKey, setRetentionDays } from './service.ts';
import { Retention, RetentionBody } from './schemas.ts';
import type { ApiKeyRow } from '../../db/schema/index.ts';

const createTenantRoute = createRoute({
  method: 'post', path: '/', tags: ['Tenants'], summary: 'Create a tenant (platform key)', security: bearer,
  request: { body: body(CreateTenantBody) },
  responses: { 201: json(Tenant, 'Created'), 409: problemResponse('Name taken'), ...commonProblems },
});
const listTenantsRoute = createRoute({
  method: 'get', path: '/', tags: ['Tenants'], summary: 'List tenants (platform key)', security: bearer,
  responses: { 200: json(z.object({ items: z.array(Tenant) }), 'All tenants'), ...commonProblems },
});
const createKeyRoute = createRoute({
  method: 'post', path: '/{tenantId}/api-keys', tags: ['API keys'], summary: 'Issue an API key (shown once)', security: bearer,
  request: { params: TenantIdParam, body: body(CreateApiKeyBody) },
  responses: { 201: json(CreatedApiKey, 'Created; `key` is never shown again'), ...commonProblems },
});
const listKeysRoute = createRoute({
  method: 'get', path: '/{tenantId}/api-keys', tags: ['API keys'], summary: 'List a tenant’s API keys (no secrets)', security: bearer,
  request: { params: TenantIdParam },
  responses: { 200: json(z.object({ items: z.array(ApiKey) }), 'Keys'), ...commonProblems },
});
const revokeKeyRoute = createRoute({
  method: 'delete', path: '/{tenantId}/api-keys/{keyId}', tags: ['API keys'], summary: 'Revoke an API key', security: bearer,
  request: { params: ApiKeyParam },
  responses: { 204: { description: 'Revoked' }, ...commonProblems },
});

const getRetentionRoute = createRoute({
  method: 'get', path: '/{tenantId}/retention', tags: ['Documents'], summary: 'The tenant’s document retention', security: bearer,
  request: { params: TenantIdParam },
  responses: { 200: json(Retention, 'Retention policy'), ...commonProblems },
});
const putRetentionRoute = createRoute({
  method: 'put', path: '/{tenantId}/retention', tags: ['Documents'], summary: 'Set the tenant’s document retention (days after upload; null keeps documents)', security: bearer,
  request: { params: TenantIdParam, body: body(RetentionBody) },
  responses: { 200: json(Retention, 'Retention policy'), ...commonProblems },
});

const keyView = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  scope: k.scope ?? null,
  createdAt: k.createdAt.toISOString(),
  expiresAt: k.expiresAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

const actorOf = (caller: Caller) => (caller.kind === 'platform' ? 'platform' : caller.keyId);

/** The platform key or the tenant's admin key, unscoped: a scoped key cannot mint itself an unscoped one. */
function tenantAdmin(caller: Caller, tenantId: string): Caller {
  requireTenantAdmin(caller, tenantId);
  requireUnscoped(caller, 'tenant settings (keys, retention)');
  return caller;
}

export function tenantRoutes(deps: { db: Db }) {
  const { db } = deps;
  const router = newRouter();
  const audit = (caller: Caller, requestId: string) => ({ actorKeyId: actorOf(caller), requestId });
  router.openapi(createTenantRoute, async (c) => {
    requirePlatform(c.get('caller'));
    const { name } = c.req.valid('json');
    await assertNameFree(db, name);
    const t = await createTenant(db, name, undefined, { actorKeyId: 'platform', requestId: c.get('requestId') });
    return c.json({ ...t, createdAt: t.createdAt.toISOString() }, 201);
  });
  router.openapi(listTenantsRoute, async (c) => {
    requirePlatform(c.get('caller'));
    const rows = await listTenants(db);
    return c.json({ items: rows.map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString() })) }, 200);
  });
  router.openapi(createKeyRoute, async (c) => {
    const { tenantId } = c.req.valid('param');
    const caller = tenantAdmin(c.get('caller'), tenantId);
    await assertTenantExists(db, tenantId);
    const b = c.req.valid('json');
    const expiresAt = b.expiresAt ? new Date(b.expiresAt) : undefined;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new ProblemError('validation-error', 'expiresAt is in the past', { errors: [{ path: 'expiresAt', message: 'must be in the future' }] });
    }
    const scope = normalizeScope(b.scope);
    const errors = scope ? scopeErrors(b.role, scope, Object.keys(jobCatalog)) : [];
    if (errors.length > 0) throw new ProblemError('validation-error', `the scope does not fit a ${b.role} key: ${errors.map((e) => e.message).join('; ')}`, { errors });
    const issued = await createApiKey(db, tenantId, { name: b.name, role: b.role, expiresAt, ...(scope ? { scope } : {}), ...audit(caller, c.get('requestId')) });
    const row = await findApiKey(db, issued.id);
    return c.json({ ...keyView(row!), key: issued.key }, 201);
  });
  router.openapi(listKeysRoute, async (c) => {
    const { tenantId } = c.req.valid('param');
    tenantAdmin(c.get('caller'), tenantId);
    await assertTenantExists(db, tenantId);
    return c.json({ items: (await listApiKeys(db, tenantId)).map(keyView) }, 200);
  });
  router.openapi(getRetentionRoute, async (c) => {
    const { tenantId } = c.req.valid('param');
    tenantAdmin(c.get('caller'), tenantId);
    return c.json({ tenantId, days: await retentionDays(db, tenantId) }, 200);
  });
  router.openapi(putRetentionRoute, async (c) => {
    const { tenantId } = c.req.valid('param');
    const caller = tenantAdmin(c.get('caller'), tenantId);
    const { days } = c.req.valid('json');
    return c.json({ tenantId, days: await setRetentionDays(db, tenantId, days, audit(caller, c.get('requestId'))) }, 200);
  });
  router.openapi(revokeKeyRoute, async (c) => {
    const { tenantId, keyId } = c.req.valid('param');
    const caller = tenantAdmin(c.get('caller'), tenantId);
    await revokeApiKey(db, tenantId, keyId, audit(caller, c.get('requestId')));
    return c.body(null, 204);
  });
  return router;
}
