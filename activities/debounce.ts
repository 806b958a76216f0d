/**
 * The debouncer's activity (workflows/debounce.ts): makes the burst's job the
 * way the API makes one (domain/jobs/create.ts): claimed by its fixed id,
 * started (idempotent by workflow id), its start and `job.create` audit
 * record written once. A retry or a reset of the debouncer finds the same row
 * and the same run: one job per burst.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { findJobContract, type JobContract } from '../contracts/index.ts';
import type { DebouncedCreate } from '../contracts/debounce.ts';
import type { Db } from '../db/client.ts';
import type { JobRow } from '../db/schema/index.ts';
import { claimJob, markStarted, requestHashOf } from '../domain/jobs/create.ts';

export interface DebounceDeps {
  db: Db;
  /** Starts (or finds) a job row's workflow and returns its first run id (domain/jobs/start.ts). */
  startJob: (contract: JobContract, row: JobRow, input: unknown) => Promise<string>;
}

export function createDebounceActivities(deps: DebounceDeps) {
  async function startDebouncedJob(burst: { tenantId: string; jobId: string; key: string; create: DebouncedCreate; creates: number }): Promise<{ jobId: string }> {
    const { create } = burst;
    const contract = findJobContract(create.type);
    // The API checked the type at every create; a type removed by a deploy since cannot run.
    if (!contract) throw ApplicationFailure.nonRetryable(`job type ${create.type} no longer exists`, 'UnknownJobType');
    const { row } = await claimJob(
      deps.db,
      {
        id: burst.jobId,
        tenantId: burst.tenantId,
        type: create.type,
        requestHash: requestHashOf({ type: create.type, input: create.input }),
        createdByKeyId: create.createdByKeyId,
        labels: create.labels,
        priority: create.priority,
        callbackUrl: create.callbackUrl,
      },
      'id',
    );
    if (!row.firstRunId) {
      const runId = await deps.startJob(contract, row, create.input);
      await markStarted(deps.db, row, runId, {
        actorKeyId: create.createdByKeyId,
        requestId: create.requestId,
        idempotencyKey: null,
        detail: { debounce: { key: burst.key, creates: burst.creates } },
      });
    }
    return { jobId: row.id };
  }
  return { startDebouncedJob };
}
