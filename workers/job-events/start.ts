/** Wiring of the job-end watcher from config, for workers/main.ts and tests. */
import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { Db } from '../../db/client.ts';
import { startJobWorkflow } from '../../domain/jobs/start.ts';
import type { Config } from '../../runtime/config.ts';
import type { Logger } from '../../runtime/logger.ts';
import { clientDataConverter, codecFrom } from '../../runtime/temporal.ts';
import { connectListingClient } from './closed-runs.ts';
import { createLeaderLock } from './leader-lock.ts';
import { createJobEventWatcher, type JobEventWatcher } from './watcher.ts';

/** Options of {@link startJobEventWatcher}. */
export interface StartJobEventWatcherOptions {
  config: Config;
  databaseUrl: string;
  db: Db;
  /** The workers' connection: describes and starts go through it (lists get a connection of their own). */
  connection: NativeConnection;
  log: Logger;
  /** Start the loop at once. @default true */
  run?: boolean;
}

/** Creates the watcher and (by default) starts its loop; `stop()` also closes its listing connection. */
export async function startJobEventWatcher(opts: StartJobEventWatcherOptions): Promise<JobEventWatcher> {
  const { config } = opts;
  const listingClient = await connectListingClient(config);
  // Delivery inputs are payloads like any job's: encrypted by the same codec.
  const client = new Client({ connection: opts.connection, namespace: config.temporalNamespace, dataConverter: clientDataConverter(codecFrom(config)) });
  const watcher = createJobEventWatcher({
    config,
    db: opts.db,
    listingClient,
    client,
    startJob: (contract, row, input) => startJobWorkflow({ client, config }, contract, row, input),
    lock: createLeaderLock(opts.databaseUrl, config.temporalNamespace),
    log: opts.log,
  });
  if (opts.run ?? true) void watcher.run();
  return {
    ...watcher,
    async stop() {
      await watcher.stop();
      await listingClient.connection.close();
    },
  };
}
