/**
 * The one home of how Temporal ids are derived from Jobplane ids. Tenant
 * first, so two tenants can never collide, and the Web UI and the CLI find a
 * tenant's runs by prefix. Sandbox-safe: workflows start children with it.
 */

/** Workflow id of a job: `<tenantId>:<jobId>`. */
export function workflowIdFor(tenantId: string, jobId: string): string {
  return `${tenantId}:${jobId}`;
}

/** Temporal schedule id of a tenant's schedule: `<tenantId>:<scheduleId>`. */
export function temporalScheduleIdFor(tenantId: string, scheduleId: string): string {
  return `${tenantId}:${scheduleId}`;
}

/** Workflow id of a tenant's debouncer for one `debounce.key` (contracts/debounce.ts): `<tenantId>:debounce:<key>`. */
export function debounceWorkflowIdFor(tenantId: string, key: string): string {
  return `${tenantId}:debounce:${key}`;
}

/** The Jobplane id inside a workflow (or schedule) id of `tenantId`: the inverse of the two above. */
export function jobIdInWorkflowId(tenantId: string, workflowId: string): string {
  return workflowId.slice(tenantId.length + 1);
}
