/** Errors of the outbox helpers: each says when it is thrown and leaves the caller's transaction usable. */

/** One field of a refused job request: `input.items.3`, `labels.0`, `delay`… */
export interface OutboxIssue {
  path: string;
  message: string;
}

/**
 * Thrown by `enqueueJob` before it sends anything to the database, when the
 * request is not one the Jobplane API could accept (a missing type, a label
 * with spaces, `startAt` and `delay` both given, input that is not JSON).
 * Nothing was inserted and the caller's transaction is untouched.
 */
export class OutboxValidationError extends Error {
  override name = 'OutboxValidationError';
  constructor(readonly issues: OutboxIssue[]) {
    super(`invalid job request: ${issues.map((i) => `${i.path || '(request)'}: ${i.message}`).join('; ')}`);
  }
}

/**
 * Thrown by `enqueueJob` when the connection it was given is not inside a
 * transaction: outside one, the row would commit on its own and the outbox
 * would promise nothing. Pass the `tx` of `sql.begin()` (postgres.js) or a
 * client after `BEGIN` (node-postgres).
 */
export class OutboxTransactionRequiredError extends Error {
  override name = 'OutboxTransactionRequiredError';
  constructor() {
    super('enqueueJob must run inside the caller’s transaction: pass the tx of sql.begin() (postgres.js) or a pg client after BEGIN (node-postgres)');
  }
}

/** Thrown by the outbox helpers and the relay when an outbox table name is not a plain (optionally schema-qualified) identifier. */
export class OutboxTableNameError extends Error {
  override name = 'OutboxTableNameError';
}
