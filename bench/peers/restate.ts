/**
 * Peer (f): Restate — `@restatedev/restate-server@1.7.12` (the binary from
 * its optional dependency `@restatedev/restate-server-linux-x64`), one node
 * with every role on free ports and a temp base dir, its defaults otherwise
 * (RocksDB WAL fsync on: `rocksdb-disable-wal-fsync = false` for the log
 * and the partition store), telemetry off. The service (`@restatedev/restate-sdk@1.17.2`)
 * is an HTTP/2 endpoint in this process, registered through the admin API;
 * jobs are submitted through Restate's own ingress (`POST
 * /peers/<workload>/send`, no thin route), each step a `ctx.run` (journaled
 * before the handler goes on); done is the ingress's `attach` answering.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import http2 from 'node:http2';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../runtime/host-port.ts';
import { loadRestateSdk } from './packages.ts';
import { chainSteps, openStepsDb, postToReceiver, type Peer, type PeerEnv } from './peer.ts';

const require = createRequire(import.meta.url);

/**
 * The SDK uses `Promise.withResolvers` (Node 22); this machine runs Node 20,
 * so the bench supplies the standard behaviour before loading it.
 */
function polyfillWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  P.withResolvers ??= () => {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

async function startRestateServer(env: PeerEnv): Promise<{ ingress: string; admin: string; pid: number }> {
  const bin = path.join(path.dirname(require.resolve('@restatedev/restate-server-linux-x64/package.json')), 'bin', 'restate-server');
  const [node, admin, ingress] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(bin, ['--no-logo', '--listen-mode', 'tcp'], {
    cwd: env.tmpDir,
    env: {
      ...process.env,
      RESTATE_BASE_DIR: path.join(env.tmpDir, 'restate-data'),
      RESTATE_NODE_NAME: 'bench',
      RESTATE_BIND_ADDRESS: `127.0.0.1:${node}`,
      RESTATE_ADVERTISED_ADDRESS: `http://127.0.0.1:${node}`,
      RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${admin}`,
      RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingress}`,
      RESTATE_DISABLE_TELEMETRY: 'true',
      RESTATE_LOG_FILTER: 'error',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  env.cleanup.add('restate-server', async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });
  const urls = { ingress: `http://127.0.0.1:${ingress}`, admin: `http://127.0.0.1:${admin}`, pid: child.pid! };
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    if (child.exitCode !== null) throw new Error(`restate-server exited ${child.exitCode}: ${log}`);
    if (Date.now() > deadline) throw new Error(`restate-server not healthy within 60 s: ${log}`);
    const ok = await Promise.all([`${urls.admin}/health`, `${urls.ingress}/restate/health`].map((u) => fetch(u).then((r) => r.ok, () => false)));
    if (ok.every(Boolean)) return urls;
  }
}

export const restate: Peer = {
  name: 'restate',
  describe: 'Restate 1.7.12 server, SDK 1.17.2 endpoint, own ingress',
  async start(env) {
    polyfillWithResolvers();
    // The SDK logs every invocation at INFO: that would be console output (and CPU) no other peer pays.
    process.env.RESTATE_LOGGING ??= 'WARN';
    const sdk = await loadRestateSdk();
    const steps = await openStepsDb(env);
    const server = await startRestateServer(env);
    const service = sdk.service({
      name: 'peers',
      handlers: {
        post1: async (ctx, id) => ctx.run('post', () => postToReceiver(env.receiverUrl, id)),
        chain10: async (ctx, id) => {
          for (let step = 1; step <= chainSteps; step++) await ctx.run(`step-${step}`, () => steps.write(id, step));
        },
      },
    });
    const endpoint = http2.createServer(sdk.createEndpointHandler({ services: [service] }));
    const port = await freePort();
    await new Promise<void>((resolve) => endpoint.listen(port, '127.0.0.1', resolve));
    const sessions = new Set<http2.ServerHttp2Session>();
    endpoint.on('session', (s: http2.ServerHttp2Session) => sessions.add(s.once('close', () => sessions.delete(s))));
    env.cleanup.add('restate endpoint', async () => {
      // The server keeps its HTTP/2 sessions open: close() alone would wait for them forever.
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => endpoint.close(() => resolve()));
    });
    const reg = await fetch(`${server.admin}/deployments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: `http://127.0.0.1:${port}` }) });
    if (!reg.ok) throw new Error(`registering the deployment answered ${reg.status}: ${await reg.text()}`);
    // The ingress learns the new service asynchronously.
    for (let i = 0; (await fetch(`${server.admin}/services/peers`)).status !== 200; i++) if (i > 100) throw new Error('service not registered');
    await sleep(1000);

    return {
      submit: async (workload) => {
        const res = await fetch(`${server.ingress}/peers/${workload}/send`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify(randomUUID()),
          signal: env.signal,
        });
        const body = (await res.json()) as { invocationId?: string };
        if (!res.ok || !body.invocationId) throw new Error(`ingress answered ${res.status}: ${JSON.stringify(body)}`);
        return body.invocationId;
      },
      done: async (id) => {
        const res = await fetch(`${server.ingress}/restate/invocation/${id}/attach`, { signal: env.signal });
        const text = await res.text();
        if (!res.ok) throw new Error(`attach ${id} answered ${res.status}: ${text}`);
        return performance.now();
      },
      pids: () => [server.pid],
      durability: 'restate-server defaults, single node: its log (replicated loglet on the node\'s log-server, replication 1) fsyncs the RocksDB WAL of every append before acknowledging (rocksdb-disable-wal-fsync=false); the partition store is derived from the log',
      skipped: {},
    };
  },
};
