/** Every activity the workers register, built from their dependencies. */
import type { Db } from '../db/client.ts';
import type { DestinationAllowlist } from './destination-guard.ts';
import { createBatchItemWaitActivities } from './batch-item-wait.ts';
import { createBatchActivities } from './batch-store.ts';
import { createWebhookActivities } from './webhook-delivery.ts';

export interface ActivityDeps {
  db: Db;
  webhook: { signingSecret: string; allowlist: DestinationAllowlist; timeoutMs: number };
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createWebhookActivities({ db: deps.db, ...deps.webhook }),
    ...createBatchActivities({ db: deps.db }),
    ...createBatchItemWaitActivities(),
  };
}

export type Activities = ReturnType<typeof createActivities>;
