import { z } from 'zod';
import { defineJob, type ActivityProfile } from './job-contract.ts';

export const webhookDeliverInput = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' })
      .max(2048),
    payload: z.json(),
    eventType: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._:-]+$/, 'letters, digits and . _ : - only')
      .optional(),
  })
  .strict();

export const webhookDeliverOutput = z.object({
  /** HTTP status of the successful delivery. */
  statusCode: z.number().int(),
  /** How many HTTP attempts the delivery took. */
  attempts: z.number().int().positive(),
});

export type WebhookDeliverInput = z.infer<typeof webhookDeliverInput>;
export type WebhookDeliverOutput = z.infer<typeof webhookDeliverOutput>;

/** Failure types the delivery activity raises; the API shows them as the job's `error.type`. */
export const webhookFailureTypes = {
  /** The receiver answered a 4xx other than 408/429: retrying cannot help. */
  rejected: 'WebhookRejected',
  /** The receiver answered 408/429/5xx, timed out or refused the connection. */
  unavailable: 'WebhookUnavailable',
  /** The destination resolves to a blocked (loopback, private, link-local) address. */
  destinationBlocked: 'WebhookDestinationBlocked',
  /** The receiver redirected; deliveries never follow redirects. */
  redirected: 'WebhookRedirected',
} as const;

/**
 * One HTTP attempt per activity attempt. The heartbeat timeout is what notices a
 * dead worker quickly (the activity heartbeats while waiting for the receiver).
 */
export const webhookDeliveryProfile: ActivityProfile = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '5 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 minutes',
    maximumAttempts: 12,
    nonRetryableErrorTypes: [
      webhookFailureTypes.rejected,
      webhookFailureTypes.destinationBlocked,
      webhookFailureTypes.redirected,
    ],
  },
};

export const webhookDeliver = defineJob({
  type: 'webhook.deliver',
  workflowType: 'webhookDeliverWorkflow',
  description: 'POST a JSON payload to a URL, signed with HMAC-SHA256, retried with backoff until it is accepted.',
  input: webhookDeliverInput,
  output: webhookDeliverOutput,
  taskQueue: 'webhooks',
  executionTimeout: '2 days',
  summary: (input, meta) => {
    const host = URL.canParse(input.url) ? new URL(input.url).host : input.url;
    return `webhook.deliver${input.eventType ? ` ${input.eventType}` : ''} → ${host} (tenant ${meta.tenantId})`;
  },
});
