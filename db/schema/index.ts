export * from './tenants.ts';
export * from './api-keys.ts';
export * from './jobs.ts';
export * from './webhook-attempts.ts';
export * from './audit-events.ts';
export * from './rate-limit-buckets.ts';
export * from './batches.ts';
