/**
 * The SSRF guard at the edge: a URL Jobplane will later POST to (a webhook
 * subscription, a job's `callbackUrl`) is checked at create with the rules
 * the delivery enforces at send time (domain/outbound/destination-guard.ts),
 * so an endpoint that could never be delivered to is refused at once.
 */
import { DestinationBlockedError, parseAllowlist, resolveDestination } from '../../domain/outbound/destination-guard.ts';
import type { Config } from '../../runtime/config.ts';
import { ProblemError } from './problems.ts';

/** Throws 400 `validation-error` naming `path` (with the guard's reason) when `url`'s host may not be delivered to. */
export async function assertDeliverable(config: Pick<Config, 'webhookAllowedHosts'>, url: string, path: string): Promise<void> {
  try {
    await resolveDestination(new URL(url).hostname, parseAllowlist(config.webhookAllowedHosts));
  } catch (err) {
    const message = err instanceof DestinationBlockedError ? err.message : `the host does not resolve: ${(err as Error).message}`;
    throw new ProblemError('validation-error', 'the URL cannot be delivered to', { errors: [{ path, message }] });
  }
}
