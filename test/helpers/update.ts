/**
 * Sends a workflow update straight through the Temporal client, the way the
 * API does: one update id for every attempt, and a new attempt when the
 * server aborted the update with its workflow task (FAILED_PRECONDITION: the
 * task that took it was refused because another event, such as a child's
 * completion or a timer, arrived meanwhile; the update was not applied). The
 * server leaves that retry to the caller, so a test calling `executeUpdate`
 * bare fails now and then on a real race that users never see.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout } from 'node:timers/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { grpcCodeOf, grpcStatus } from '../../runtime/grpc-status.ts';

const attempts = 4;

export async function executeUpdate(handle: WorkflowHandle, name: string, arg: unknown): Promise<unknown> {
  const updateId = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await handle.executeUpdate(name, { args: [arg], updateId });
    } catch (err) {
      if (grpcCodeOf(err) !== grpcStatus.FAILED_PRECONDITION || attempt === attempts) throw err;
      await setTimeout(50 * attempt);
    }
  }
}
