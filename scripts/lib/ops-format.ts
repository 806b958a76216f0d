/** Human-readable output of the ops CLI (what `--json` replaces). */
import type { Batch, BatchStarted, JobDiagnosis, ResetResult, StuckList } from '../../client/jobplane-client.ts';
import type { Job } from '../../client/types.ts';

const failureText = (f: { type: string; message: string } | null | undefined) => (f ? `${f.type}: ${f.message}` : '-');

function commandLines(d: JobDiagnosis): string[] {
  return [
    `  ui:        ${d.links.ui}`,
    `  describe:  ${d.commands.describe}`,
    `  reset:     ${d.commands.reset}`,
    `  tctl:      ${d.commands.tctlReset}`,
    ...(d.commands.opsReset ? [`  ops:       ${d.commands.opsReset}`] : []),
  ];
}

export function formatStuck(list: StuckList): string {
  const head = `${list.items.length} stuck job${list.items.length === 1 ? '' : 's'} (looked at ${list.scanned} running${list.truncated ? ', more exist: raise --limit' : ''})`;
  if (list.items.length === 0) return head;
  const blocks = list.items.map((d) =>
    [
      `${d.jobId ?? d.workflowId}  ${d.type}  ${d.reason}  attempt ${d.attempts}  running ${d.runningSeconds}s  ${failureText(d.lastFailure)}`,
      `  advice:    ${d.advice}`,
      ...commandLines(d),
    ].join('\n'),
  );
  return [head, '', ...blocks.flatMap((b) => [b, ''])].join('\n').trimEnd();
}

export function formatDiagnosis(job: Job, d: JobDiagnosis): string {
  const lines = [
    `job        ${job.id} (${job.type})`,
    `status     ${job.status}${d.reason ? `  — stuck: ${d.reasons.join(', ')}` : ''}`,
    `workflow   ${d.workflowId}`,
    `run        ${d.runId}  started ${d.startedAt} (${d.runningSeconds}s)`,
    ...(job.retryOf ? [`retry of   ${job.retryOf}`] : []),
    ...(d.buildIds.length > 0 ? [`build ids  ${d.buildIds.join(', ')}`] : []),
    ...(job.error ? [`error      ${job.error.type}: ${job.error.message}`] : []),
  ];
  if (d.workflowTask) {
    lines.push(`wf task    ${d.workflowTask.state}, attempt ${d.workflowTask.attempt}${d.workflowTask.lastFailure ? `, last failure ${failureText(d.workflowTask.lastFailure)}` : ''}`);
  }
  for (const a of d.pendingActivities) {
    const max = a.maximumAttempts > 0 ? `/${a.maximumAttempts}` : '';
    lines.push(`activity   ${a.activityType} #${a.activityId} ${a.state}, attempt ${a.attempt}${max}, last failure ${failureText(a.lastFailure)}${a.nextAttemptAt ? `, next attempt ${a.nextAttemptAt}` : ''}`);
  }
  lines.push(`advice     ${d.advice}`, ...commandLines(d).map((l) => l.replace(/^ {2}/, '')));
  return lines.join('\n');
}

export const formatReset = (r: ResetResult) =>
  `reset ${r.jobId} to event ${r.resetEventId}: new run ${r.runId} (was ${r.previousRunId})\n  ui: ${r.links.ui}`;

export const formatJob = (verb: string, j: Job) =>
  `${verb} ${j.id} (${j.type}): ${j.status}${j.retryOf ? `, retry of ${j.retryOf}` : ''}\n  ui: ${j.links.ui}\n  api: ${j.links.self}`;

export const formatBatchStarted = (b: BatchStarted) =>
  `batch ${b.batchJobId} started over about ${b.approximateCount} running job${b.approximateCount === 1 ? '' : 's'}\n  query: ${b.visibilityQuery}`;

export const formatBatch = (b: Batch) =>
  `batch ${b.batchJobId}: ${b.state}, ${b.completedOperations}/${b.totalOperations} reset, ${b.failedOperations} failed${b.finishedAt ? ` (finished ${b.finishedAt})` : ''}`;
