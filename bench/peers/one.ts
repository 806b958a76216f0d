/**
 * One peer in a process of its own (spawned by run.ts, one at a time, so no
 * two peers share the cores and each peak memory is that peer's alone):
 * starts the peer against `DATABASE_URL`'s server, runs both workloads and
 * writes its figures as JSON to the file named by argv[3].
 *
 *   node --import tsx bench/peers/one.ts <peer> <out.json>
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { Cleanup } from '../cleanup.ts';
import { startReceiver } from '../http.ts';
import { createBenchDatabase } from '../scratch-db.ts';
import { measureWorkload } from './measure.ts';
import { chainSteps, workloadNames, type PeerEnv } from './peer.ts';
import { peerModules, settingsFromEnv, type PeerResult } from './peers.ts';
import { postmasterOf, type Group } from './procstat.ts';

async function main(): Promise<void> {
  const [name, out] = process.argv.slice(2);
  const load = name ? peerModules[name] : undefined;
  if (!load || !out) throw new Error(`usage: one.ts <${Object.keys(peerModules).join('|')}> <out.json>`);
  const serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('DATABASE_URL must name the Postgres server (run.ts sets it)');
  const log = (m: string) => process.stderr.write(`[bench:peers ${name}] ${m}\n`);
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort(new Error(`interrupted by ${sig}`)));
  const cleanup = new Cleanup();
  try {
    const peer = await load();
    const tmpDir = mkdtempSync(path.join(tmpdir(), `jobplane-peers-${name}-`));
    cleanup.add('peer tmp dir', async () => rmSync(tmpDir, { recursive: true, force: true }));
    const scratch = await createBenchDatabase(serverUrl);
    cleanup.add('peer scratch database', () => scratch.drop());
    const receiver = await startReceiver();
    cleanup.add('receiver', () => receiver.close());
    const sql = postgres(scratch.url, { max: 1, onnotice: () => {} });
    cleanup.add('probe connection', () => sql.end({ timeout: 5 }));
    const backend = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const postmaster = postmasterOf(backend[0]!.pid);
    const pgSettings = await sql<{ name: string; setting: string }[]>`select name, setting from pg_settings where name in ('synchronous_commit', 'fsync', 'wal_sync_method') order by name`;

    const env: PeerEnv = { databaseUrl: scratch.url, receiverUrl: receiver.urlFor('peers'), tmpDir, cleanup, signal: controller.signal, log };
    const t0 = Date.now();
    log(`starting ${peer.describe}`);
    const running = await peer.start(env);
    const startSeconds = (Date.now() - t0) / 1000;
    const groups = (): Record<string, Group> => ({
      'bench process': { pids: [process.pid], descendants: false },
      engine: { pids: running.pids(), descendants: true },
      postgres: { pids: postmaster ? [postmaster] : [], descendants: true },
    });
    const settings = settingsFromEnv();
    const workloads: PeerResult['workloads'] = {};
    for (const workload of workloadNames) {
      if (running.skipped[workload]) continue;
      log(`${workload}: ${settings.warmup} warm-up + ${settings.n} sequential, then ${settings.throughputN} with ${settings.concurrency} in flight`);
      const effects =
        workload === 'post1'
          ? async () => receiver.count('peers')
          : async () => Number((await sql<{ n: string }[]>`select count(*) as n from peer_steps`)[0]!.n);
      workloads[workload] = await measureWorkload(running, workload, settings, groups, controller.signal, effects, workload === 'post1' ? 1 : chainSteps);
      const f = workloads[workload]!;
      log(`${workload}: done p50 ${f.toDoneMs.p50} ms, ${f.throughput.jobsPerSec} jobs/s, ${f.throughput.cpuSecondsPer1000} CPU s/1k, effects ${f.effects.observed}/${f.effects.expected}`);
    }
    const result: PeerResult = {
      peer: peer.name,
      describe: peer.describe,
      durability: running.durability,
      postgresDurability: pgSettings.map((r) => `${r.name}=${r.setting}`).join(', '),
      startSeconds,
      workloads,
      skipped: running.skipped,
    };
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    const failures = await cleanup.run();
    for (const f of failures) log(`cleanup: ${f}`);
  }
}

main().then(
  () => setTimeout(() => process.exit(0), 2000).unref(),
  (err: unknown) => {
    process.stderr.write(`[bench:peers] failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 2000).unref();
  },
);
