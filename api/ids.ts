import { idPattern, timeSortableId } from '../runtime/ids.ts';

/**
 * `job_` + 10 chars of millisecond time + 16 random chars: opaque to users,
 * unique, and sortable by creation time (handy for listing and for humans
 * reading logs).
 */
export function newJobId(now = Date.now()): string {
  return timeSortableId('job', now);
}

/** A stored batch item list id: `bin_` + the same 26 sortable chars as job ids. */
export function newBatchInputId(now = Date.now()): string {
  return timeSortableId('bin', now);
}

export const jobIdPattern = idPattern('job');

/** `doc_…`, time-sortable like job ids. */
export function newDocumentId(now = Date.now()): string {
  return timeSortableId('doc', now);
}

export const documentIdPattern = idPattern('doc');

/** `whs_…`: a webhook subscription. */
export function newSubscriptionId(now = Date.now()): string {
  return timeSortableId('whs', now);
}

export const subscriptionIdPattern = idPattern('whs');
