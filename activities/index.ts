/** Every activity the workers register, built from their dependencies. */
import type { Db } from '../db/client.ts';
import type { DestinationAllowlist } from '../domain/outbound/destination-guard.ts';
import { createBatchItemWaitActivities } from './batch/item-wait.ts';
import { createBatchActivities } from './batch/store.ts';
import { createDebounceActivities } from './debounce.ts';
import { createDocumentEventActivities, type DocumentEventDeps } from './documents/events.ts';
import { createDocumentActivities, type DocumentDeps } from './documents/ingestion.ts';
import { createRetentionActivities } from './documents/retention.ts';
import { createWebhookActivities } from './webhook-delivery.ts';

export interface ActivityDeps {
  db: Db;
  webhook: { signingSecret: string; allowlist: DestinationAllowlist; timeoutMs: number };
  documents: Omit<DocumentDeps, 'db'> & Omit<DocumentEventDeps, 'db'>;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createWebhookActivities({ db: deps.db, ...deps.webhook }),
    ...createDocumentActivities({ db: deps.db, ...deps.documents }),
    ...createDocumentEventActivities({ db: deps.db, ...deps.documents }),
    ...createRetentionActivities({ db: deps.db, blobs: deps.documents.blobs }),
    ...createBatchActivities({ db: deps.db }),
    ...createBatchItemWaitActivities(),
    ...createDebounceActivities({ db: deps.db, startJob: deps.documents.startJob }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
