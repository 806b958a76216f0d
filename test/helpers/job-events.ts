/** The real job-end watcher for a test stack, and a wait for it to have handled every run closed so far. */
import { NativeConnection } from '@temporalio/worker';
import { eq } from 'drizzle-orm';
import { vi } from 'vitest';
import { jobEventCursors } from '../../db/schema/index.ts';
import { createLogger } from '../../runtime/logger.ts';
import { temporalConnectionOptions } from '../../runtime/temporal.ts';
import { startJobEventWatcher } from '../../workers/job-events/start.ts';
import type { TestStack } from './stack.ts';

/** Env for a stack whose watcher should tick fast: every 250 ms, 5 s of overlap. */
export const fastWatcherEnv = { JOBPLANE_JOB_EVENTS_INTERVAL_MS: '250', JOBPLANE_JOB_EVENTS_OVERLAP_MS: '5000' };

/** Starts the watcher on a connection of its own; `stop()` stops both. */
export async function startTestWatcher(stack: TestStack, name: string): Promise<{ stop(): Promise<void> }> {
  const connection = await NativeConnection.connect(temporalConnectionOptions(stack.config));
  const watcher = await startJobEventWatcher({ config: stack.config, databaseUrl: stack.env.DATABASE_URL!, db: stack.db, connection, log: createLogger(name, 'error') });
  return {
    async stop() {
      await watcher.stop();
      await connection.close();
    },
  };
}

/** Waits until the watcher's cursor has passed now (every run closed or started up to now is handled). */
export async function watcherCaughtUp(stack: TestStack, timeoutMs = 20_000): Promise<void> {
  const now = Date.now();
  await vi.waitFor(
    async () => {
      const [c] = await stack.db.select().from(jobEventCursors).where(eq(jobEventCursors.namespace, stack.config.temporalNamespace));
      if (!c || c.handledUntil.getTime() < now + 1000) throw new Error(`cursor at ${c?.handledUntil.toISOString()}`);
    },
    { timeout: timeoutMs, interval: 100 },
  );
}
