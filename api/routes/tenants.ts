/** `/v1/tenants` (platform key) and `/v1/tenants/{tenantId}/api-keys` (platform key or the tenant's admin). */
import { createRoute, z } from '@hono/zod-openapi';
import { and, desc, eq, isNull } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { apiKeys, auditEvents, tenants } from '../../db/schema/index.ts';
import { requirePlatform, requireTenantAdmin, type Caller } from '../auth.ts';
import { body, json, bearer, newRouter } from '../openapi-app.ts';
import { ProblemError } from '../problems.ts';
import { ApiKey, ApiKeyParam, commonProblems, CreateApiKeyBody, CreatedApiKey, CreateTenantBody, problemResponse, Tenant, TenantIdParam } from '../schemas.ts';
import { createApiKey, createTenant } from '../tenant-service.ts';
import { Retention, RetentionBody } from '../document-schemas.ts';


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

type KeyRow = typeof apiKeys.$inferSelect;
const keyView = (k: KeyRow) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  createdAt: k.createdAt.toISOString(),
  expiresAt: k.expiresAt?.toISOString() ?? null,
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

async function assertTenantExists(db: Db, tenantId: string): Promise<void> {
  const [row] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId));
  if (!row) throw new ProblemError('not-found', `no tenant ${tenantId}`);
}

const actorOf = (caller: Caller) => (caller.kind === 'platform' ? 'platform' : caller.keyId);

export function tenantRoutes(deps: { db: Db }) {
  const { db } = deps;
  const router = newRouter();
  router.openapi(createTenantRoute, async (c) => {
    requirePlatform(c.get('caller'));
    const { name } = c.req.valid('json');
    const [taken] = await db.select({ id: tenants.id }).from(tenants).where(eq(tenants.name, name));
    if (taken) throw new ProblemError('conflict', `a tenant named "${name}" exists`);
    const t = await createTenant(db, name, undefined, { actorKeyId: 'platform', requestId: c.get('requestId') });
    return c.json({ ...t, createdAt: t.createdAt.toISOString() }, 201);
  });
  router.openapi(listTenantsRoute, async (c) => {
    requirePlatform(c.get('caller'));
    const rows = await db.select().from(tenants).orderBy(tenants.createdAt);
    return c.json({ items: rows.map((t) => ({ id: t.id, name: t.name, createdAt: t.createdAt.toISOString() })) }, 200);
  });
  router.openapi(createKeyRoute, async (c) => {
    const { tenantId } = c.req.valid('param');
    const caller = requireTenantAdmin(c.get('caller'), tenantId);
    await assertTenantExists(db, tenantId);
    const b = c.req.valid('json');
    const expiresAt = b.expiresAt ? new Date(b.expiresAt) : undefined;
    if (expiresAt && expiresAt.getTime() <= Date.now()) {
      throw new ProblemError('validation-error', 'expiresAt is in the past', { errors: [{ path: 'expiresAt', message: 'must be in the future' }] });
    }
    const issued = await createApiKey(db, tenantId, { name: b.name, role: b.role, expiresAt, actorKeyId: actorOf(caller), requestId: c.get('requestId') });
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, issued.id));
    return c.json({ ...keyView(row!), key: issued.key }, 201);
  });
  router.openapi(listKeysRoute, async (c) => {
    const { tenantId } = c.req.valid('param');
    requireTenantAdmin(c.get('caller'), tenantId);
    await assertTenantExists(db, tenantId);
    const rows = await db.select().from(apiKeys).where(eq(apiKeys.tenantId, tenantId)).orderBy(desc(apiKeys.createdAt));
    return c.json({ items: rows.map(keyView) }, 200);
  });
  router.openapi(getRetentionRoute, async (c) => {
    const { tenantId } = c.req.valid('param');
    requireTenantAdmin(c.get('caller'), tenantId);
    const [row] = await db.select({ days: tenants.documentRetentionDays }).from(tenants).where(eq(tenants.id, tenantId));
    if (!row) throw new ProblemError('not-found', `no tenant ${tenantId}`);
    return c.json({ tenantId, days: row.days }, 200);
  });
  router.openapi(putRetentionRoute, async (c) => {
    const { tenantId } = c.req.valid('param');
    const caller = requireTenantAdmin(c.get('caller'), tenantId);
    const { days } = c.req.valid('json');
    const updated = await db.transaction(async (tx) => {
      const [before] = await tx.select({ days: tenants.documentRetentionDays }).from(tenants).where(eq(tenants.id, tenantId)).for('update');
      if (!before) return undefined;
      await tx.update(tenants).set({ documentRetentionDays: days }).where(eq(tenants.id, tenantId));
      await tx.insert(auditEvents).values({ tenantId, actorKeyId: actorOf(caller), action: 'tenant.retention.set', target: tenantId, requestId: c.get('requestId'), outcome: 'succeeded', detail: { days, previous: before.days } });
      return { days };
    });
    if (!updated) throw new ProblemError('not-found', `no tenant ${tenantId}`);
    return c.json({ tenantId, days: updated.days }, 200);
  });
  router.openapi(revokeKeyRoute, async (c) => {
    const { tenantId, keyId } = c.req.valid('param');
    const caller = requireTenantAdmin(c.get('caller'), tenantId);
    const revoked = await db.transaction(async (tx) => {
      const [row] = await tx
        .update(apiKeys)
        .set({ revokedAt: new Date() })
        .where(and(eq(apiKeys.id, keyId), eq(apiKeys.tenantId, tenantId), isNull(apiKeys.revokedAt)))
        .returning();
      if (row) {
        await tx.insert(auditEvents).values({ tenantId, actorKeyId: actorOf(caller), action: 'api-key.revoke', target: keyId, requestId: c.get('requestId'), outcome: 'succeeded' });
      }
      return row;
    });
    if (!revoked) throw new ProblemError('not-found', `no active key ${keyId}`);
    return c.body(null, 204);
  });
  return router;
}
