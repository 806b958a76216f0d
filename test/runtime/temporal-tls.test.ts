/**
 * Reaching a Temporal cluster the way production does (Temporal Cloud or a
 * self-hosted cluster behind TLS): the API and a real worker process connect
 * through a TLS front that demands a client certificate and an API key, using
 * only the TEMPORAL_TLS_* / TEMPORAL_API_KEY settings; a job runs end to end.
 * A wrong key, an untrusted server certificate and a missing client
 * certificate are refused, and bad settings fail start-up naming the variable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../../runtime/config.ts';
import { temporalConnectionOptions } from '../../runtime/temporal.ts';
import { makeTlsFiles, startGrpcProxy, type GrpcProxy, type TlsFiles } from '../helpers/grpc-proxy.ts';
import { startReceiver, type Receiver } from '../helpers/receiver.ts';
import { startTestStack, startTestTemporal, waitForJob, type TestStack, type TestTemporal } from '../helpers/stack.ts';

const apiKey = 'tmprl-test-api-key-0123456789';
let temporal: TestTemporal;
let tls: TlsFiles;
let proxy: GrpcProxy;
let stack: TestStack;
let receiver: Receiver;

function tlsEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_API_KEY: apiKey,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: tls.caCert,
    TEMPORAL_TLS_CLIENT_CERT_PATH: tls.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: tls.clientKey,
    ...overrides,
  };
}

/** The messages of an error and its causes, for matching what went wrong underneath "Failed to connect". */
function messages(err: unknown): string {
  const parts: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined; e; e = e.cause as typeof e) parts.push(String(e.message));
  return parts.join(' <- ');
}

/** Connects a client with a short timeout; resolves to the error it failed with, or throws if it connected. */
async function connectError(env: Record<string, string>): Promise<Error> {
  const options = temporalConnectionOptions(loadConfig(env));
  const err = await Connection.connect({ ...options, connectTimeout: 3000 }).then(
    async (c) => {
      await c.close();
      throw new Error('connected, but should have been refused');
    },
    (e: unknown) => e as Error,
  );
  return err;
}

beforeAll(async () => {
  temporal = await startTestTemporal();
  tls = makeTlsFiles();
  proxy = await startGrpcProxy({ upstream: temporal.address, tls, apiKey, requireClientCert: true });
  stack = await startTestStack('tls', { temporal, env: tlsEnv() });
  receiver = await startReceiver(() => ({ status: 200 }));
});
afterAll(async () => {
  await receiver?.close();
  await stack?.close();
  await proxy?.close();
  await temporal?.stop();
});

describe('Temporal over TLS with a client certificate and an API key', () => {
  it('the API and a worker process run a job through the TLS front, every call carrying the key', async () => {
    await stack.spawnWorkerProcess();
    const ready = await stack.api('/readyz', { role: null });
    expect(ready.status).toBe(200);

    const res = await stack.api('/v1/jobs', {
      method: 'POST',
      role: 'submitter',
      body: JSON.stringify({ type: 'webhook.deliver', input: { url: receiver.url, payload: { over: 'tls' } } }),
    });
    expect(res.status).toBe(201);
    const job = (await res.json()) as { id: string };
    expect(await waitForJob(stack, job.id)).toMatchObject({ status: 'succeeded', result: { statusCode: 200, attempts: 1 } });
    expect(receiver.requests).toHaveLength(1);
    // Nothing reached Temporal except through the front, and nothing was refused.
    expect(proxy.stats.forwarded).toBeGreaterThan(10);
    expect(proxy.stats.refused).toBe(0);
  });

  it('a wrong API key is refused as UNAUTHENTICATED, for clients and for workers', async () => {
    const refusedBefore = proxy.stats.refused;
    const err = await connectError(tlsEnv({ TEMPORAL_API_KEY: 'wrong-key' }));
    expect(messages(err)).toMatch(/16 UNAUTHENTICATED: missing or wrong API key/);
    const native = NativeConnection.connect(temporalConnectionOptions(loadConfig(tlsEnv({ TEMPORAL_API_KEY: 'wrong-key' }))));
    await expect(native).rejects.toThrow(/valid authentication credentials/);
    expect(proxy.stats.refused).toBeGreaterThan(refusedBefore);
  });

  it('a server certificate from a CA the client does not trust is refused', async () => {
    const sessionsBefore = proxy.stats.sessions;
    const err = await connectError(tlsEnv({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: tls.otherCaCert }));
    // The handshake never completes, so no session opens and no call (nor API key) reaches the server. (Calls are
    // not counted: the worker process of the first test keeps polling through the same front.)
    expect(messages(err)).toMatch(/Failed to connect before the deadline/);
    expect(proxy.stats.sessions).toBe(sessionsBefore);
  });

  it('without a client certificate the mTLS handshake fails', async () => {
    const env = tlsEnv();
    delete env.TEMPORAL_TLS_CLIENT_CERT_PATH;
    delete env.TEMPORAL_TLS_CLIENT_KEY_PATH;
    const sessionsBefore = proxy.stats.sessions;
    const err = await connectError(env);
    expect(messages(err)).toMatch(/Failed to connect before the deadline/);
    expect(proxy.stats.sessions).toBe(sessionsBefore);
  });
});

describe('TLS settings', () => {
  it('plaintext by default; TLS when a key or any TLS path is set, or when asked for', () => {
    expect(temporalConnectionOptions(loadConfig({})).tls).toBeUndefined();
    expect(temporalConnectionOptions(loadConfig({ TEMPORAL_API_KEY: 'k' }))).toEqual({ address: '127.0.0.1:7233', apiKey: 'k', tls: {} });
    expect(temporalConnectionOptions(loadConfig({ TEMPORAL_TLS: 'true' })).tls).toEqual({});
    expect(temporalConnectionOptions(loadConfig({ TEMPORAL_TLS_SERVER_NAME: 'frontend.internal' })).tls).toEqual({ serverNameOverride: 'frontend.internal' });
  });

  it('bad settings fail start-up naming the variable', () => {
    expect(() => temporalConnectionOptions(loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/x.crt' }))).toThrow(ConfigError);
    expect(() => temporalConnectionOptions(loadConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/x.crt' }))).toThrow(/TEMPORAL_TLS_CLIENT_KEY_PATH/);
    expect(() => temporalConnectionOptions(loadConfig({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.pem' }))).toThrow(
      /TEMPORAL_TLS_SERVER_CA_CERT_PATH=\/nonexistent\/ca.pem: cannot read it \(ENOENT\)/,
    );
    expect(() => temporalConnectionOptions(loadConfig({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }))).toThrow(/only sent over TLS/);
    expect(() => loadConfig({ TEMPORAL_TLS: 'yes' })).toThrow(/TEMPORAL_TLS/);
  });
});
