/** Request and response schemas of `/v1/tenants` (tenants, API keys, retention) and `/v1/audit`. */
import { z } from '@hono/zod-openapi';
import { apiKeyRoles } from '../../db/schema/index.ts';
import { timestamp } from '../http/schemas.ts';
import { scopeActions } from '../http/key-scope.ts';
import { jobLabel } from '../jobs/schemas.ts';
import { jobCatalog } from '../../contracts/index.ts';

export const Tenant = z.object({ id: z.string(), name: z.string(), createdAt: z.string() }).openapi('Tenant');
export const CreateTenantBody = z
  .object({ name: z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/, 'letters, digits, space and _ . -') })
  .strict()
  .openapi('CreateTenant');

export const ApiKeyRole = z.enum(apiKeyRoles).openapi('ApiKeyRole');
/**
 * A key's scope (docs/API.md, "Scoped keys"): each field given narrows the
 * key, on top of its role; a field left out does not.
 */
export const ApiKeyScope = z
  .object({
    jobTypes: z
      .array(z.string().max(100))
      .min(1)
      .max(50)
      .optional()
      .openapi({ description: `Job types the key may see and act on (others answer 404 like unknown ids). Registered types: ${Object.keys(jobCatalog).join(', ')}`, example: ['webhook.deliver'] }),
    labels: z
      .array(jobLabel)
      .min(1)
      .max(20)
      .optional()
      .openapi({ description: 'Labels a job must ALL carry for the key to see it; the key’s creates must carry them too (403 `scope-forbidden` otherwise)', example: ['team=payments'] }),
    actions: z
      .array(z.enum(scopeActions))
      .min(1)
      .max(scopeActions.length)
      .optional()
      .openapi({ description: 'Actions the key may take, each within its role (403 `scope-forbidden` for the others)', example: ['read'] }),
  })
  .strict()
  .refine((s) => s.jobTypes || s.labels || s.actions, 'give at least one of jobTypes, labels, actions (or leave scope out)')
  .openapi('ApiKeyScope');

export const ApiKey = z
  .object({
    id: z.string(),
    name: z.string(),
    role: ApiKeyRole,
    // null: not scoped (the role alone decides). A union, not `.nullable()`: that would make the shared component (the create body's too) nullable.
    scope: z.union([ApiKeyScope, z.null()]),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
  })
  .openapi('ApiKey');
export const CreatedApiKey = ApiKey.extend({ key: z.string().openapi({ description: 'Shown once; only a hash is stored' }) }).openapi('CreatedApiKey');
export const CreateApiKeyBody = z
  .object({ name: z.string().min(1).max(100), role: ApiKeyRole, expiresAt: timestamp.optional(), scope: ApiKeyScope.optional() })
  .strict()
  .openapi('CreateApiKey');
export const TenantIdParam = z.object({ tenantId: z.string().openapi({ param: { name: 'tenantId', in: 'path' } }) });
export const ApiKeyParam = TenantIdParam.extend({ keyId: z.string().openapi({ param: { name: 'keyId', in: 'path' } }) });

export const AuditEvent = z
  .object({
    id: z.number().int(),
    tenantId: z.string().nullable(),
    actorKeyId: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    requestId: z.string().nullable(),
    outcome: z.enum(['succeeded', 'failed', 'denied', 'pending']).openapi({ description: '`pending`: a change outside Postgres (Temporal) was begun and its end could not be recorded' }),
    detail: z.unknown().optional(),
    createdAt: z.string(),
  })
  .openapi('AuditEvent');
export const AuditQuery = z.object({
  action: z.string().max(100).optional(),
  actorKeyId: z.string().max(100).optional(),
  target: z.string().max(200).optional(),
  outcome: z.enum(['succeeded', 'failed', 'denied', 'pending']).optional(),
  after: timestamp.optional(),
  before: timestamp.optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(50).optional(),
});
export const AuditList = z.object({ items: z.array(AuditEvent), nextCursor: z.string().nullable() }).openapi('AuditList');

export const RetentionBody = z
  .object({
    days: z
      .number()
      .int()
      .min(1)
      .max(36_500)
      .nullable()
      .openapi({ description: 'Delete documents this many days after upload (legal holds excepted); null keeps them forever' }),
  })
  .strict()
  .openapi('Retention');

export const Retention = z.object({ tenantId: z.string(), days: z.number().int().nullable() }).openapi('RetentionPolicy');
