/** The peers run.ts knows, in the order they run, and what one.ts reports for each. */
import { envInt } from '../util.ts';
import type { Settings, WorkloadFigures } from './measure.ts';
import type { Peer, WorkloadName } from './peer.ts';

/** Order of priority and of running: the baseline first. */
export const peerOrder = ['temporal', 'jobplane', 'bullmq', 'graphile', 'dbos', 'restate'];

/** Peer modules, loaded only when chosen (a BullMQ process should not carry the Temporal runtime). */
export const peerModules: Record<string, () => Promise<Peer>> = {
  temporal: async () => (await import('./temporal-raw.ts')).temporalRaw,
  jobplane: async () => (await import('./jobplane.ts')).jobplane,
  bullmq: async () => (await import('./bullmq.ts')).bullmq,
  graphile: async () => (await import('./graphile.ts')).graphile,
  dbos: async () => (await import('./dbos.ts')).dbos,
  restate: async () => (await import('./restate.ts')).restate,
};

export interface PeerResult {
  peer: string;
  describe: string;
  /** What the engine fsyncs before it acknowledges. */
  durability: string;
  /** What the peer's Postgres fsyncs, read from pg_settings. */
  postgresDurability: string;
  startSeconds: number;
  workloads: Partial<Record<WorkloadName, WorkloadFigures>>;
  skipped: Partial<Record<WorkloadName, string>>;
}

export function settingsFromEnv(): Settings {
  return {
    n: envInt('BENCH_PEERS_N', 30),
    throughputN: envInt('BENCH_PEERS_THROUGHPUT_N', 1000),
    concurrency: envInt('BENCH_PEERS_CONCURRENCY', 32),
    warmup: envInt('BENCH_PEERS_WARMUP', 5),
  };
}

