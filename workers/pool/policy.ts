/**
 * The local pool's scaling policy, as a pure function so it can be tested
 * without processes or a clock: given what the pool runs now and one reading
 * of KEDA's recommendation, how many worker processes it should run.
 *
 * - Scale up as soon as the recommendation has exceeded the current count for
 *   `scaleUpReadings` consecutive readings (default 1), straight to the
 *   recommendation (as the HPA does).
 * - Scale down only after the recommendation has stayed below the current
 *   count for a whole `scaleDownWindowMs` (default 60 s), one process at a
 *   time; each step starts a new window.
 * - Never below `min` nor above `max`; a count outside them is corrected at once.
 */

export interface PoolPolicy {
  min: number;
  max: number;
  /** Consecutive readings above the current count before scaling up. @default 1 */
  scaleUpReadings: number;
  /** How long the recommendation must stay below the current count before one step down. @default 60000 */
  scaleDownWindowMs: number;
}

export const defaultPoolPolicy = { scaleUpReadings: 1, scaleDownWindowMs: 60_000 } as const;

export interface PoolState {
  policy: PoolPolicy;
  /** Worker processes running or starting (not those draining). */
  current: number;
  /** Consecutive readings whose recommendation exceeded `current`. */
  aboveReadings: number;
  /** Since when (ms) every reading recommended fewer than `current`; undefined when the last one did not. */
  belowSince: number | undefined;
}

export interface PoolReading {
  /** Replicas KEDA's formula recommends (already clamped to min..max by the reader, clamped again here). */
  recommended: number;
}

export type DecisionReason =
  | 'below-min'
  | 'above-max'
  | 'scale-up'
  | 'scale-up-pending'
  | 'scale-down'
  | 'scale-down-stabilising'
  | 'steady';

export interface Decision {
  /** Processes the pool should run after this reading. */
  target: number;
  reason: DecisionReason;
  /** The state to pass with the next reading (with `current` refreshed by the caller). */
  state: PoolState;
}

export function initialPoolState(policy: PoolPolicy, current = 0): PoolState {
  if (!Number.isInteger(policy.min) || !Number.isInteger(policy.max) || policy.min < 0 || policy.max < Math.max(1, policy.min)) {
    throw new RangeError(`pool size ${policy.min}..${policy.max}: need 0 <= min <= max and max >= 1`);
  }
  if (policy.scaleUpReadings < 1) throw new RangeError('scaleUpReadings must be at least 1');
  if (policy.scaleDownWindowMs < 0) throw new RangeError('scaleDownWindowMs must not be negative');
  return { policy, current, aboveReadings: 0, belowSince: undefined };
}

export function decide(state: PoolState, reading: PoolReading, now: number): Decision {
  const { policy, current } = state;
  const recommended = Math.min(policy.max, Math.max(policy.min, reading.recommended));
  const reset = { ...state, aboveReadings: 0, belowSince: undefined };

  if (current < policy.min) return { target: policy.min, reason: 'below-min', state: reset };
  if (current > policy.max) return { target: policy.max, reason: 'above-max', state: reset };

  if (recommended > current) {
    const aboveReadings = state.aboveReadings + 1;
    if (aboveReadings >= policy.scaleUpReadings) return { target: recommended, reason: 'scale-up', state: reset };
    return { target: current, reason: 'scale-up-pending', state: { ...state, aboveReadings, belowSince: undefined } };
  }

  if (recommended < current) {
    const belowSince = state.belowSince ?? now;
    if (now - belowSince >= policy.scaleDownWindowMs) {
      // One step; the next step needs a whole new window of low readings.
      return { target: current - 1, reason: 'scale-down', state: { ...state, aboveReadings: 0, belowSince: now } };
    }
    return { target: current, reason: 'scale-down-stabilising', state: { ...state, aboveReadings: 0, belowSince } };
  }

  return { target: current, reason: 'steady', state: reset };
}
