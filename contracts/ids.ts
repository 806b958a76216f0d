/**
 * Every id prefix Jobplane hands out, and the patterns that recognise them:
 * the one place a new kind of id is added. Sandbox-safe (no crypto here):
 * contracts and workflows check ids with the patterns; runtime/ids.ts makes
 * them.
 *
 * Time-sortable ids are `<prefix>_` + 26 base32 chars (10 of millisecond
 * time, 16 random or derived), so keyset pages stay stable while rows are
 * inserted.
 */
export const idPrefixes = {
  job: 'job',
  document: 'doc',
  batchInput: 'bin',
  webhookSubscription: 'whs',
  schedule: 'sch',
  /** A Temporal batch operation (reset/terminate many), inside `<tenantId>:batch_…`. */
  temporalBatch: 'batch',
  /** `ten_` + 16 hex chars (not time-sortable: tenants are few and listed by name). */
  tenant: 'ten',
  /** API keys: `jp_<16-char id>_<secret>`; only the id is stored in clear. */
  apiKey: 'jp',
} as const;

export type IdKind = keyof typeof idPrefixes;

/** `<prefix>_` + 26 base32 chars. */
export function idPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}_[0-9a-z]{26}$`);
}

export const jobIdPattern = idPattern(idPrefixes.job);
export const documentIdPattern = idPattern(idPrefixes.document);
export const batchInputIdPattern = idPattern(idPrefixes.batchInput);
export const webhookSubscriptionIdPattern = idPattern(idPrefixes.webhookSubscription);
export const scheduleIdPattern = idPattern(idPrefixes.schedule);
