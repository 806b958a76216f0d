/** The relay's configuration: defaults, one error naming every bad variable (without echoing secrets), the table in docs/OUTBOX.md. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RelayConfigError, loadRelayConfig, relayConfigTableMarkdown } from '../../client/outbox/relay/config.ts';
import { parseHostPort } from '../../client/outbox/relay/http-server.ts';

const required = { OUTBOX_DATABASE_URL: 'postgres://svc:secret-pw@db:5432/orders', JOBPLANE_URL: 'https://jobs.example.com', JOBPLANE_API_KEY: 'jp_key_secret' };
const errorOf = (env: Record<string, string>) => {
  try {
    loadRelayConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(RelayConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a RelayConfigError');
};

describe('outbox relay configuration', () => {
  it('docs/OUTBOX.md lists exactly the relay’s variables (regenerate: npx tsx client/outbox/print.ts config)', () => {
    const doc = readFileSync(path.resolve(import.meta.dirname, '../../docs/OUTBOX.md'), 'utf8');
    expect(doc).toContain(relayConfigTableMarkdown());
  });

  it('applies the defaults', () => {
    expect(loadRelayConfig(required)).toEqual({
      databaseUrl: required.OUTBOX_DATABASE_URL,
      jobplaneUrl: required.JOBPLANE_URL,
      apiKey: required.JOBPLANE_API_KEY,
      table: 'jobplane_outbox',
      batchSize: 10,
      pollIntervalMs: 2000,
      leaseMs: 30_000,
      requestTimeoutMs: 10_000,
      retryBaseMs: 1000,
      retryMaxMs: 300_000,
      keepRelayedHours: 168,
      dbPoolMax: 4,
      metricsAddress: '127.0.0.1:9467',
      statusLogIntervalMs: 60_000,
      logLevel: 'info',
    });
    expect(loadRelayConfig({ ...required, OUTBOX_RELAY_METRICS_ADDRESS: '' }).metricsAddress).toBe('');
    expect(loadRelayConfig({ ...required, OUTBOX_RELAY_BATCH_SIZE: '' }).batchSize).toBe(10);
  });

  it('names every missing or bad variable in one error, and never echoes a URL or key', () => {
    const message = errorOf({ OUTBOX_RELAY_BATCH_SIZE: '0', OUTBOX_TABLE: 'Bad-Name', OUTBOX_RELAY_LOG_LEVEL: 'loud' });
    for (const name of ['OUTBOX_DATABASE_URL', 'JOBPLANE_URL', 'JOBPLANE_API_KEY', 'OUTBOX_RELAY_BATCH_SIZE="0"', 'OUTBOX_TABLE="Bad-Name"', 'OUTBOX_RELAY_LOG_LEVEL="loud"']) {
      expect(message).toContain(name);
    }
    const secrets = errorOf({ OUTBOX_DATABASE_URL: 'mysql://u:secret-pw@h/db', JOBPLANE_URL: 'ftp://jobs', JOBPLANE_API_KEY: 'jp_key_secret' });
    expect(secrets).toContain('OUTBOX_DATABASE_URL: must be a postgres:// URL');
    expect(secrets).toContain('JOBPLANE_URL: must be an http(s) URL');
    expect(secrets).not.toContain('secret-pw');
  });

  it('refuses a lease that a send could outlast, and a retry ceiling below its base', () => {
    expect(errorOf({ ...required, OUTBOX_RELAY_LEASE_MS: '12000', OUTBOX_RELAY_REQUEST_TIMEOUT_MS: '10000' })).toContain('OUTBOX_RELAY_LEASE_MS=12000: must be at least OUTBOX_RELAY_REQUEST_TIMEOUT_MS + 5000 (15000)');
    expect(errorOf({ ...required, OUTBOX_RELAY_RETRY_BASE_MS: '5000', OUTBOX_RELAY_RETRY_MAX_MS: '1000' })).toContain('OUTBOX_RELAY_RETRY_MAX_MS=1000');
    expect(loadRelayConfig({ ...required, OUTBOX_RELAY_LEASE_MS: '15000' }).leaseMs).toBe(15_000);
  });

  it('reads host:port listen addresses, IPv6 included', () => {
    expect(parseHostPort('0.0.0.0:9467')).toEqual({ host: '0.0.0.0', port: 9467 });
    expect(parseHostPort('[::1]:9467')).toEqual({ host: '::1', port: 9467 });
    expect(errorOf({ ...required, OUTBOX_RELAY_METRICS_ADDRESS: '9467' })).toContain('OUTBOX_RELAY_METRICS_ADDRESS="9467"');
  });
});
