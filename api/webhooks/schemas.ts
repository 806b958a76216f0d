/** Request and response schemas of `/v1/webhook-subscriptions`. */
import { z } from '@hono/zod-openapi';
import { isJobEventType, jobCatalog, webhookEventTypes } from '../../contracts/index.ts';
import { jobLabel } from '../jobs/schemas.ts';

const jobTypeNames = Object.keys(jobCatalog) as [string, ...string[]];

export const CreateSubscriptionBody = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).max(2048),
    events: z.array(z.enum(webhookEventTypes)).min(1).max(webhookEventTypes.length),
    jobTypes: z
      .array(z.enum(jobTypeNames))
      .max(jobTypeNames.length)
      .optional()
      .openapi({ description: 'Job events only for jobs of these types (default: every type)' }),
    labels: z
      .array(jobLabel)
      .max(20)
      .optional()
      .openapi({ description: 'Job events only for jobs carrying every one of these labels, e.g. `team=payments` (default: every job)' }),
    description: z.string().max(200).optional(),
  })
  .strict()
  // Filters narrow job events; on a document-only subscription they would silently do nothing.
  .refine((b) => !(b.jobTypes?.length || b.labels?.length) || b.events.some(isJobEventType), {
    message: 'jobTypes and labels filter job events (job.succeeded, …): subscribe to at least one',
    path: ['events'],
  })
  .openapi('CreateWebhookSubscription');

export const Subscription = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.string()),
    jobTypes: z.array(z.string()),
    labels: z.array(z.string()),
    description: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('WebhookSubscription');

export const SubscriptionIdParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });
