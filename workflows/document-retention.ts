import { continueAsNew, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.ts';
import { documentDurableStepProfile, type DocumentRetentionInput, type DocumentRetentionOutput } from '../contracts/index.ts';

const { purgeExpiredDocuments, finishInterruptedDeletions, countHeldExpired } = proxyActivities<Activities>({
  ...documentDurableStepProfile,
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
});

/**
 * The platform's retention run (started by the `document-retention`
 * Temporal Schedule): deletes every document older than its tenant's
 * retention, in batches, skipping legal holds; each deletion is audited.
 * Expiry is judged against the run's start time, so retries and resets of
 * a run delete the same set; deleting is idempotent, so they delete nothing
 * twice. A very long sweep continues as new before its history grows large.
 */
export async function documentRetentionWorkflow(input: DocumentRetentionInput): Promise<DocumentRetentionOutput> {
  const asOf = workflowInfo().runStartTime.toISOString();
  let deleted = input.deletedSoFar ?? 0;
  if (input.deletedSoFar === undefined) await finishInterruptedDeletions({ batchSize: 1000 });
  for (;;) {
    const batch = await purgeExpiredDocuments({ asOf, batchSize: input.batchSize });
    deleted += batch.deleted;
    // Fewer candidates than asked for: nothing expired is left (held ones are never candidates).
    if (batch.examined < input.batchSize || batch.deleted === 0) break;
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof documentRetentionWorkflow>({ ...input, deletedSoFar: deleted });
  }
  const { held } = await countHeldExpired({ asOf });
  return { deleted, held };
}
