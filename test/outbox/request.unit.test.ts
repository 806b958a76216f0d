/**
 * The outbox request schema: what `enqueueJob` refuses before inserting,
 * and that it agrees with `POST /v1/jobs` on the fields that do not depend
 * on the job type (type, labels, priority, startAt, delay), so a row it
 * accepts is not refused by the API for its shape.
 */
import { describe, expect, it } from 'vitest';
import { CreateJobBody } from '../../api/jobs/schemas.ts';
import { OutboxValidationError } from '../../client/index.ts';
import { delayToSeconds, outboxJobRequestSchema, parseOutboxJobRequest } from '../../client/outbox/request.ts';

const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
const inTwoYears = new Date(Date.now() + 2 * 365 * 86_400_000).toISOString();

describe('outbox job requests', () => {
  it('agrees with POST /v1/jobs on every field but the input', () => {
    const bodies: Record<string, unknown>[] = [
      { type: 'noop', input: {} },
      { type: '', input: {} },
      { type: 'x'.repeat(100), input: {} },
      { type: 'x'.repeat(101), input: {} },
      { type: 'noop', input: {}, priority: 1 },
      { type: 'noop', input: {}, priority: 5 },
      { type: 'noop', input: {}, priority: 0 },
      { type: 'noop', input: {}, priority: 2.5 },
      { type: 'noop', input: {}, labels: ['team=billing', 'a/b:c.d_e-f'] },
      { type: 'noop', input: {}, labels: ['two words'] },
      { type: 'noop', input: {}, labels: ['x'.repeat(101)] },
      { type: 'noop', input: {}, labels: Array.from({ length: 21 }, (_, i) => `l${i}`) },
      { type: 'noop', input: {}, delay: 30 },
      { type: 'noop', input: {}, delay: '500ms' },
      { type: 'noop', input: {}, delay: '2h' },
      { type: 'noop', input: {}, delay: '365d' },
      { type: 'noop', input: {}, delay: '366d' },
      { type: 'noop', input: {}, delay: -1 },
      { type: 'noop', input: {}, delay: '1w' },
      { type: 'noop', input: {}, startAt: inAnHour },
      { type: 'noop', input: {}, startAt: inTwoYears },
      { type: 'noop', input: {}, startAt: '2026-01-01' },
      { type: 'noop', input: {}, startAt: inAnHour, delay: '1m' },
      { type: 'noop', input: {}, extra: true },
      { type: 'noop' },
    ];
    for (const body of bodies) {
      expect(outboxJobRequestSchema.safeParse(body).success, JSON.stringify(body)).toBe(CreateJobBody.safeParse(body).success);
    }
  });

  it('takes a Date for startAt, and stores a delay in seconds', () => {
    const at = new Date(Date.now() + 60_000);
    expect(parseOutboxJobRequest({ type: 'noop', input: {}, startAt: at })).toMatchObject({ startAt: at.toISOString(), delaySeconds: null });
    expect(parseOutboxJobRequest({ type: 'noop', input: {}, delay: '5m' })).toMatchObject({ startAt: null, delaySeconds: 300 });
    expect(delayToSeconds('500ms')).toBe(0.5);
    expect(delayToSeconds('1d')).toBe(86_400);
    expect(delayToSeconds('soon')).toBeNaN();
  });

  it('refuses input Postgres or JSON would mangle, naming each field', () => {
    const deep: unknown[] = [];
    let cursor = deep;
    for (let i = 0; i < 70; i++) cursor.push((cursor = []));
    const cases: [unknown, string, RegExp][] = [
      [{ a: 'x\u0000y' }, 'input.a', /NUL/],
      [{ a: ['ok', '\udc00'] }, 'input.a.1', /surrogates/],
      [{ 'k\u0000': 1 }, 'input.k\u0000', /key must not contain NUL/],
      [{ n: Infinity }, 'input.n', /finite/],
      [{ n: 10n }, 'input.n', /bigint is not JSON/],
      [{ f: () => 1 }, 'input.f', /function is not JSON/],
      [{ s: new Set([1]) }, 'input.s', /Set instance/],
      [[1, undefined], 'input.1', /undefined/],
      [deep, 'input', /nests deeper/],
    ];
    for (const [input, field, message] of cases) {
      const err = (() => {
        try {
          parseOutboxJobRequest({ type: 'noop', input });
        } catch (e) {
          return e;
        }
      })() as OutboxValidationError;
      expect(err, field).toBeInstanceOf(OutboxValidationError);
      const issue = err.issues.find((i) => i.path.startsWith(field.split('.').slice(0, 2).join('.')));
      expect(issue?.message, field).toMatch(message);
    }
    // What JSON keeps is kept: undefined members dropped, Dates as ISO strings, null prototypes, unicode.
    const at = new Date('2026-12-01T00:00:00Z');
    const ok = parseOutboxJobRequest({ type: 'noop', input: { a: undefined, at, o: Object.assign(Object.create(null), { x: 1 }), emoji: '✓😀' } });
    expect(JSON.parse(JSON.stringify(ok.input))).toEqual({ at: '2026-12-01T00:00:00.000Z', o: { x: 1 }, emoji: '✓😀' });
  });
});
