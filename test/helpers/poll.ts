/** Waiting without a hand-written loop, for the few waits a test asserts on itself afterwards. */
import { vi } from 'vitest';

/**
 * Polls `ready` (every `interval` ms, like `vi.waitFor`) until it returns
 * anything but `false` without throwing; resolves `false` instead of failing
 * once `timeout` passes, for a wait whose outcome the test's own assertions
 * judge afterwards.
 */
export async function waitAtMost(ready: () => unknown, opts: { timeout: number; interval: number }): Promise<boolean> {
  return await vi
    .waitFor(async () => {
      if ((await ready()) === false) throw new Error('not yet');
    }, opts)
    .then(
      () => true,
      () => false,
    );
}
