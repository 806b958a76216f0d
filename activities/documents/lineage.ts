/** The lineage every derived row records, read from the running activity. */
import { Context } from '@temporalio/activity';

export interface Lineage {
  sourceSha256: string;
  workflowId: string;
  runId: string;
  activity: string;
  activityAttempt: number;
  codeVersion: string;
}

export function currentLineage(sourceSha256: string, codeVersion: string): Lineage {
  const info = Context.current().info;
  return {
    sourceSha256,
    workflowId: info.workflowExecution?.workflowId ?? 'standalone',
    runId: info.workflowExecution?.runId ?? 'standalone',
    activity: info.activityType,
    activityAttempt: info.attempt,
    codeVersion,
  };
}
