/**
 * `Server-Timing` on `/v1` responses: where a request's time went (`auth`,
 * and for a create `dedupe` when asked for, `limits`, `claim`, `start` — the Temporal start — and
 * `record`), plus `total`. A slow create can be read off its own response
 * (browser dev tools show it too), and the bench prints the breakdown from
 * it. Durations only: no ids, names or values.
 */
import type { Context } from 'hono';
import { timing, wrapTime } from 'hono/timing';

export const serverTiming = () => timing({ total: true, crossOrigin: false });

export type PhaseName = 'auth' | 'dedupe' | 'limits' | 'claim' | 'start' | 'record';

/** Runs one phase of a request, timed when the request is (services call it without knowing HTTP). */
export type TimePhase = <T>(name: PhaseName, work: () => Promise<T>) => Promise<T>;

export const untimed: TimePhase = (_name, work) => work();

/** The phase timer of a request; untimed where the middleware did not run (a sub-app mounted alone in a test). */
export function phasesOf(c: Context): TimePhase {
  if (!c.get('metric')) return untimed;
  return (name, work) => wrapTime(c, name, work());
}
