/**
 * The SSRF guard lives in runtime/destination-guard.ts since the API checks
 * webhook subscription URLs with the same rules the delivery activity
 * enforces at send time; re-exported here for the activity's imports.
 */
export * from '../runtime/destination-guard.ts';
