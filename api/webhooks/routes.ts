/**
 * `/v1/webhook-subscriptions` (admin): endpoints that receive the tenant's
 * platform events (`document.ingested`; the job-end events `job.succeeded`,
 * `job.failed`, … optionally filtered by job type and labels) as signed
 * `webhook.deliver` jobs.
 * A URL is checked with the rules the delivery enforces at send time (the
 * SSRF guard: no loopback, private or link-local destinations unless
 * allowlisted in JOBPLANE_WEBHOOK_ALLOWED_HOSTS; service.ts).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Db } from '../../db/client.ts';
import type { Config } from '../../runtime/config.ts';
import { requireRole } from '../http/auth.ts';
import { requireUnscoped } from '../http/key-scope.ts';
import { createSubscription, deleteSubscription, listSubscriptions } from './service.ts';
import { CreateSubscriptionBody, Subscription, SubscriptionIdParam } from './schemas.ts';
import { body, bearer, json, newRouter } from '../http/openapi-app.ts';
import { commonProblems } from '../http/schemas.ts';
import type { WebhookSubscriptionRow } from '../../db/schema/index.ts';

const base = { tags: ['Webhook subscriptions'], security: bearer };

const create = createRoute({
  ...base,
  method: 'post',
  path: '/',
  summary: 'Subscribe an endpoint to platform events',
  request: { body: body(CreateSubscriptionBody) },
  responses: { 201: json(Subscription, 'Created'), ...commonProblems },
});
const list = createRoute({
  ...base,
  method: 'get',
  path: '/',
  summary: 'The tenant’s subscriptions',
  responses: { 200: json(z.object({ items: z.array(Subscription) }), 'Subscriptions'), ...commonProblems },
});
const remove = createRoute({
  ...base,
  method: 'delete',
  path: '/{id}',
  summary: 'Unsubscribe (events already emitted are still delivered)',
  request: { params: SubscriptionIdParam },
  responses: { 204: { description: 'Deleted' }, ...commonProblems },
});

const view = (s: WebhookSubscriptionRow) => ({
  id: s.id,
  url: s.url,
  events: s.events,
  jobTypes: s.jobTypes,
  labels: s.labels,
  description: s.description,
  createdAt: s.createdAt.toISOString(),
});

export function webhookSubscriptionRoutes(deps: { db: Db; config: Config }) {
  const { db } = deps;
  const router = newRouter();
  router.openapi(create, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    requireUnscoped(caller, 'webhook subscriptions');
    const row = await createSubscription(deps, caller, c.req.valid('json'), c.get('requestId'));
    c.header('location', `${deps.config.publicUrl}/v1/webhook-subscriptions/${row.id}`);
    return c.json(view(row), 201);
  });
  router.openapi(list, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    requireUnscoped(caller, 'webhook subscriptions');
    return c.json({ items: (await listSubscriptions(db, caller)).map(view) }, 200);
  });
  router.openapi(remove, async (c) => {
    const caller = requireRole(c.get('caller'), 'admin');
    requireUnscoped(caller, 'webhook subscriptions');
    await deleteSubscription(db, caller, c.req.valid('param').id, c.get('requestId'));
    return c.body(null, 204);
  });
  return router;
}
