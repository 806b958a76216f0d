/**
 * The exact commands an on-call engineer can paste for a run: temporal CLI,
 * tctl and the ops CLI (`npm run ops`). Every value is quoted for a POSIX
 * shell, so what the API prints is what runs.
 */
import type { Config } from '../../runtime/config.ts';
import type { StuckReason } from './schemas.ts';

/** Quotes `value` for sh/bash: bare when it is plainly safe, single-quoted otherwise. */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_.:/@%+=,-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Always single-quoted (workflow ids and reasons read better that way, and a tenant id never needs care). */
const sq = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/** One line of what to do, per stuck reason (the runbook has the long form). */
export function adviceFor(reason: StuckReason | null, workflowTaskState: string | undefined): string {
  switch (reason) {
    case 'workflow-task-failing':
      return 'The job’s code fails (a bad deploy or non-determinism): stop the bad build, then reset to the last workflow task.';
    case 'activity-retrying':
      return 'A dependency keeps failing (see the last failure): fix it and the next attempt succeeds by itself; if it cannot be fixed, terminate the job and retry it later.';
    case 'overdue':
      return workflowTaskState === 'scheduled'
        ? 'Its workflow task is waiting for a worker: check that workers poll its task queue (`temporal task-queue describe`).'
        : 'Running longer than expected: look at its pending workflow task and activities.';
    default:
      return 'Nothing looks stuck.';
  }
}

export function resetReasonFor(reason: StuckReason | null): string {
  return reason ? `on-call: reset after fixing ${reason}` : 'on-call: reset';
}

export interface CommandContext {
  config: Pick<Config, 'temporalAddress' | 'temporalNamespace'>;
}

export function commandsFor(ctx: CommandContext, workflowId: string, jobId: string | null, reason: StuckReason | null) {
  const address = shellQuote(ctx.config.temporalAddress);
  const namespace = shellQuote(ctx.config.temporalNamespace);
  const why = sq(resetReasonFor(reason));
  return {
    describe: `temporal workflow describe -w ${sq(workflowId)} --address ${address} --namespace ${namespace}`,
    reset: `temporal workflow reset -w ${sq(workflowId)} --type LastWorkflowTask --reason ${why} --address ${address} --namespace ${namespace}`,
    tctlReset: `tctl --address ${address} --ns ${namespace} workflow reset --workflow_id ${sq(workflowId)} --reset_type LastWorkflowTask --reason ${why}`,
    opsDescribe: jobId ? `npm run ops -- describe ${jobId}` : null,
    opsReset: jobId ? `npm run ops -- reset ${jobId} --to last --reason ${why}` : null,
  };
}
