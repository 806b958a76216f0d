/**
 * Teardown for everything a benchmark run starts. Steps run in reverse order of
 * registration, each bounded and isolated, so one stuck or failing step never
 * leaves the dev server, Postgres or a socket behind.
 */
export class Cleanup {
  private readonly steps: { name: string; fn: () => Promise<unknown> }[] = [];
  private done = false;

  /**
   * Registers a teardown step; call right after the thing it undoes has started.
   * After {@link run}, a step runs at once: an aborted run may still finish
   * starting something (the dev server, say) after the teardown began.
   */
  add(name: string, fn: () => Promise<unknown>): void {
    if (this.done) void fn().catch(() => {});
    else this.steps.push({ name, fn });
  }

  /** Runs every step (newest first) and returns the ones that failed or timed out. */
  async run(stepTimeoutMs = 15_000): Promise<string[]> {
    this.done = true;
    const failures: string[] = [];
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await withTimeout(step.fn(), stepTimeoutMs, `${step.name}: no answer within ${stepTimeoutMs} ms`);
      } catch (err) {
        failures.push(`${step.name}: ${(err as Error).message}`);
      }
    }
    return failures;
  }
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
