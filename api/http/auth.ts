import { createMiddleware } from 'hono/factory';
import { eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { apiKeys, tenants, type ApiKeyRole, type ApiKeyScope } from '../../db/schema/index.ts';
import { hashSecret, parseApiKey, roleAllows, secretMatches } from './api-keys.ts';
import { ProblemError } from './problems.ts';
import { phasesOf } from './server-timing.ts';

/** A tenant's API key. */
export interface TenantCaller {
  kind: 'tenant';
  tenantId: string;
  keyId: string;
  role: ApiKeyRole;
  /**
   * What the key is confined to on top of its role (api/http/key-scope.ts
   * enforces it); undefined: every job of the tenant, as far as the role goes.
   */
  scope?: ApiKeyScope;
  /** The tenant's quota overrides, read with the key in one query (null: the platform default). */
  quota?: TenantQuota;
}

export interface TenantQuota {
  createRatePerSecond: number | null;
  createBurst: number | null;
  maxRunningJobs: number | null;
}

/** The platform key: manages tenants, never reads or runs a tenant's jobs. */
export interface PlatformCaller {
  kind: 'platform';
  keyId: 'platform';
}

export type Caller = TenantCaller | PlatformCaller;

export type AuthEnv = { Variables: { caller: Caller; requestId: string } };

/**
 * Resolves `Authorization: Bearer <key>` to a caller; 401 for anything
 * missing, unknown, revoked or expired. `platformKey` is compared by hash in
 * constant time, like tenant keys.
 */
/** The caller a presented key belongs to, or undefined when it is unknown, revoked or expired. */
export async function callerForKey(db: Db, platformHash: string | undefined, presented: string): Promise<Caller | undefined> {
  if (platformHash && secretMatches(presented, platformHash)) return { kind: 'platform', keyId: 'platform' };
  const parsed = parseApiKey(presented);
  // The tenant's quotas come along: a create needs them next, and this saves it a round trip.
  const [row] = parsed
    ? await db
        .select({
          key: apiKeys,
          quota: { createRatePerSecond: tenants.createRatePerSecond, createBurst: tenants.createBurst, maxRunningJobs: tenants.maxRunningJobs },
        })
        .from(apiKeys)
        .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
        .where(eq(apiKeys.id, parsed.id))
    : [];
  const key = row?.key;
  const usable = key && secretMatches(parsed!.secret, key.secretHash) && key.revokedAt === null && (key.expiresAt === null || key.expiresAt.getTime() > Date.now());
  // The scope is a column of the key's row: no route pays a round trip for it.
  return usable ? { kind: 'tenant', tenantId: key.tenantId, keyId: key.id, role: key.role, ...(key.scope ? { scope: key.scope } : {}), quota: row.quota } : undefined;
}

/**
 * Resolves `Authorization: Bearer <key>` to a caller; 401 for anything
 * missing, unknown, revoked or expired. `platformKey` is compared by hash in
 * constant time, like tenant keys.
 */
export function authenticate(db: Db, platformKey: string | undefined) {
  const platformHash = platformKey ? hashSecret(platformKey) : undefined;
  return createMiddleware<AuthEnv>(async (c, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '');
    if (!match) throw new ProblemError('unauthenticated', 'send Authorization: Bearer <api key>');
    const caller = await phasesOf(c)('auth', () => callerForKey(db, platformHash, match[1]!));
    if (!caller) throw new ProblemError('unauthenticated', 'the API key is unknown, revoked or expired');
    // The Web UI's credential decodes payloads at /codec and is nothing else: refused before any route looks at the request.
    if (caller.kind === 'tenant' && caller.role === 'codec') throw new ProblemError('forbidden', 'a codec key only decodes payloads at /codec; use a viewer (or higher) key for the API');
    c.set('caller', caller);
    await next();
  });
}

/** The tenant caller if its role includes `needed`; 403 otherwise (also for the platform key). */
export function requireRole(caller: Caller, needed: ApiKeyRole): TenantCaller {
  if (caller.kind === 'platform') {
    throw new ProblemError('forbidden', 'the platform key manages tenants; use a tenant API key for this');
  }
  if (!roleAllows(caller.role, needed)) {
    throw new ProblemError('forbidden', `this action needs the ${needed} role; the key has ${caller.role}`);
  }
  return caller;
}

/**
 * For `/v1/tenants/{tenantId}/…`: the platform key, or an admin key of that
 * same tenant. Another tenant's key gets 404, exactly like an unknown tenant.
 * (The routes also refuse scoped keys: api/http/key-scope.ts `requireUnscoped`.)
 */
export function requireTenantAdmin(caller: Caller, tenantId: string): Caller {
  if (caller.kind === 'platform') return caller;
  if (caller.tenantId !== tenantId) throw new ProblemError('not-found', `no tenant ${tenantId}`);
  requireRole(caller, 'admin');
  return caller;
}

export function requirePlatform(caller: Caller): void {
  if (caller.kind !== 'platform') throw new ProblemError('forbidden', 'only the platform key manages tenants');
}
