/**
 * No input yields a 5xx. A seeded property-based fuzz run (fast-check)
 * generated from the OpenAPI document: every route and every parameter gets
 * hostile values — NUL, lone surrogates, bidi controls, 10,000-level
 * nesting, huge numbers and strings, dates out of range, duplicate JSON
 * keys, wrong types, huge arrays — and every answer must be below 500; a
 * refusal must be problem+json (a 400 naming the field) and must change
 * nothing: rows, audit records of changes, workflows, blobs.
 *
 * CI runs a fixed seed and a bounded number of requests; JOBPLANE_FUZZ_RUNS
 * and JOBPLANE_FUZZ_SEED run longer or other ones.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { problemTypeBase } from '../../api/http/problems.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';
import { storedState } from '../helpers/stored-state.ts';

const runs = Number(process.env.JOBPLANE_FUZZ_RUNS ?? 400);
const seed = Number(process.env.JOBPLANE_FUZZ_SEED ?? 20261202);

let stack: TestStack;
let realJobId = '';
let approvalJobId = '';

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  query: string[];
  bodyType: string | undefined;
  /** Bodies that pass validation, as starting points to mutate (the schema's example, and guesses). */
  examples: unknown[];
}

beforeAll(async () => {
  // Inputs are under test here, not load: the visibility budget out of the way (the dev server allows 100 calls/s).
  stack = await startTestStack('fuzz', { env: { JOBPLANE_VISIBILITY_RATE_PER_SECOND: '1000' } });
  await stack.startWorkers();
  const job = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'noop', input: {} }) });
  realJobId = ((await job.json()) as { id: string }).id;
  const approval = await stack.api('/v1/jobs', { method: 'POST', role: 'submitter', body: JSON.stringify({ type: 'approval.request', input: { subject: 'fuzz' } }) });
  approvalJobId = ((await approval.json()) as { id: string }).id;
});
afterAll(async () => {
  await stack?.close();
});

async function operations(): Promise<Operation[]> {
  const doc = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { parameters?: { name: string; in: string }[]; requestBody?: { content?: Record<string, { schema?: { example?: unknown } }> } }>>;
  };
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      const content = op.requestBody?.content ?? {};
      const bodyType = Object.keys(content)[0];
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: params.filter((p) => p.in === 'query').map((p) => p.name),
        bodyType,
        examples: bodyType ? [...(content[bodyType]!.schema?.example !== undefined ? [content[bodyType]!.schema!.example] : []), ...guessBodies(path)] : [],
      });
    }
  }
  return ops;
}

/** Bodies that would be accepted, so mutations reach the handlers (and free-form fields), not only the validators. */
function guessBodies(path: string): unknown[] {
  const hook = { url: 'https://hooks.example.com/x', payload: { order: { id: 42, lines: [{ sku: 'a', qty: 1 }] }, note: 'x' }, eventType: 'order.paid' };
  if (path === '/v1/jobs') {
    return [
      { type: 'noop', input: { tag: 'fuzz' }, labels: ['fuzz=1'] },
      { type: 'webhook.deliver', input: hook, labels: ['a=b'], delay: '5m' },
      { type: 'approval.request', input: { subject: 'fuzz', details: 'd', approvers: ['a@example.com'] }, startAt: '2030-01-01T00:00:00Z' },
      { type: 'batch.run', input: { jobType: 'noop', items: [{ tag: 'x' }, { tag: 'y' }], concurrency: 2 } },
    ];
  }
  if (path.includes('/signals/') || path.includes('/updates/')) return [{ by: 'fuzz@example.com', text: 'hello', comment: 'ok' }];
  if (path.startsWith('/v1/schedules')) return [{ type: 'webhook.deliver', input: hook, interval: '1h', paused: true, labels: ['s=1'] }];
  if (path.includes('/api-keys')) return [{ name: 'fuzz key', role: 'viewer', expiresAt: '2030-01-01T00:00:00Z' }];
  if (path.startsWith('/v1/tenants')) return [{ name: 'fuzz tenant' }];
  if (path.includes('retention')) return [{ days: 30 }];
  if (path.includes('legal-hold')) return [{ hold: true }];
  if (path.startsWith('/v1/webhook-subscriptions')) return [{ url: 'https://hooks.example.com/x', events: ['document.ingested'] }];
  if (path.startsWith('/v1/ops')) return [{ reason: 'fuzz', jobType: 'noop', to: 'last-workflow-task' }];
  return [{ reason: 'fuzz' }];
}

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

/** Values that have broken APIs before (strings, numbers, dates, shapes). */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '\u0000',
    'a\u0000b',
    '\ud800',
    'x\udfffy',
    '\u202eevil\u202c',
    '\u2066rtl\u2069',
    '\ufeff',
    '',
    ' ',
    '../../etc/passwd',
    "'; drop table jobs; --",
    '%00',
    '😀'.repeat(50),
    'x'.repeat(100_000),
    '0000-01-01T00:00:00Z',
    '+275760-09-13T00:00:00.000Z',
    '9999-12-31T23:59:59-14:00',
    '1969-12-31T23:59:59Z',
    '2026-13-45T25:61:61Z',
    '99999999999999d',
    'job_00000000000000000000000000',
    1e308,
    -1e308,
    2 ** 53 + 1,
    -1,
    0,
    0.5,
    true,
    null,
    [],
    {},
  ),
  fc.array(fc.constant('x'), { minLength: 5000, maxLength: 5000 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
);

/** Whole bodies that are hostile as text: nesting, duplicate keys, numbers JSON.parse turns into Infinity. */
const hostileBodyText = fc.constantFrom(
  deep(10_000),
  `{"input":${deep(10_000)},"type":"noop"}`,
  '{"type":"noop","type":"webhook.deliver","input":{}}',
  '{"type":"noop","input":{"tag":"a","tag":"b"}}',
  '{"type":"noop","input":{},"priority":1e400}',
  `{"type":"webhook.deliver","input":{"url":"https://hooks.example.com/x","payload":${deep(10_000)}}}`,
  `{"type":"webhook.deliver","input":{"url":"https://hooks.example.com/x","payload":${deep(200)}}}`,
  '{"type":"webhook.deliver","input":{"url":"https://hooks.example.com/x","payload":{"a":"\\u0000","b":"\\ud800"}}}',
  '{"type":"webhook.deliver","input":{"url":"https://hooks.example.com/x","payload":{"n":1e400}}}',
  '{"type":"webhook.deliver","input":{"url":"https://hooks.example.com/x","payload":{"k":1,"k":2}}}',
  '{"type":"noop","input":{"tag":"\\u0000"}}',
  '{"type":"noop","input":{"tag":"\\ud800"}}',
  '{"name":"\\udc00x"}',
  '[]',
  'null',
  '"just a string"',
  '{"a":',
);

/** Every place in a JSON value (as key paths), the root included. */
function places(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const here = [at];
  if (Array.isArray(value)) return [...here, ...value.flatMap((v, i) => places(v, [...at, i]))];
  if (typeof value === 'object' && value !== null) return [...here, ...Object.entries(value).flatMap(([k, v]) => places(v, [...at, k]))];
  return here;
}

/** `body` with `value` at one of its places (chosen by `pick`), or at a new key beside them. */
function mutate(body: unknown, pick: number, value: unknown): unknown {
  const all = places(body);
  const target = all[pick % (all.length + 1)];
  if (target === undefined || target.length === 0) {
    // A key the schema does not know (mass assignment), or the whole body.
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && pick % 2) return { ...body, [`extra${pick % 7}`]: value };
    return target === undefined ? value : { ...(body as object), extra: value };
  }
  const out = structuredClone(body) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = out;
  for (const key of target.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[target.at(-1)!] = value;
  return out;
}

/** Percent-encoding that also carries lone surrogates (as their WTF-8 bytes, which encodeURIComponent refuses). */
function encode(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
  return text.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]|[\s\S]/g, (ch) => {
    const code = ch.charCodeAt(0);
    if (ch.length === 1 && code >= 0xd800 && code <= 0xdfff) return `%${(0xe0 | (code >> 12)).toString(16)}%${(0x80 | ((code >> 6) & 0x3f)).toString(16)}%${(0x80 | (code & 0x3f)).toString(16)}`.toUpperCase();
    return encodeURIComponent(ch);
  });
}

/** What a refused request must not have changed (test/helpers/stored-state.ts), and the tenant's workflows. */
async function fingerprint(): Promise<string> {
  const { count } = await stack.client.workflow.count(`TenantId = "${stack.tenantId}"`);
  // Staged uploads left out: a refusal empties the staging folder, possibly just after it answered.
  const { staged: _staged, ...state } = await storedState(stack.db, stack.env.JOBPLANE_BLOB_DIR!);
  return JSON.stringify({ ...state, workflows: count });
}

/**
 * Visibility is eventually consistent, and workflows start children on their
 * own time: a workflow an earlier, accepted request started (or its child) can
 * show up in the count only now. A refusal still changed nothing
 * if Postgres is exactly as before and no workflow of the tenant started since
 * the request was sent (asked once visibility had time to catch up).
 */
async function expectNoWorkflowSince(sentAt: Date, before: string, after: string, label: string): Promise<void> {
  const withoutCount = (fp: string) => ({ ...(JSON.parse(fp) as Record<string, unknown>), workflows: undefined });
  expect(withoutCount(after), `${label}: a refused request changed something (before ${before}, after ${after})`).toEqual(withoutCount(before));
  await new Promise((r) => setTimeout(r, 1500));
  // Children are left out: a batch accepted earlier starts its items when its workflow gets to them, which can be now.
  const { count } = await stack.client.workflow.count(`TenantId = "${stack.tenantId}" AND StartTime >= "${sentAt.toISOString()}" AND ParentWorkflowId IS NULL`);
  expect(count, `${label}: a refused request started a workflow (before ${before}, after ${after})`).toBe(0);
}

interface Sample {
  op: Operation;
  where: 'path' | 'query' | 'body' | 'body-text';
  value: unknown;
  bodyText: string;
  keyPick: number;
  role: 'admin' | 'submitter' | 'platform';
}

const seen = { requests: 0, refused: 0, accepted: 0 };

/** Sends one hostile request and checks the answer: below 500; a refusal is a problem that names the field and changes nothing. */
async function send({ op, where, value, bodyText, keyPick, role }: Sample): Promise<void> {
  const params: Record<string, string> = {};
  for (const name of op.pathParams) {
    const real = name === 'name' ? 'approve' : name.toLowerCase().includes('tenant') ? stack.tenantId : keyPick % 2 ? approvalJobId : realJobId;
    params[name] = where === 'path' && op.pathParams[keyPick % op.pathParams.length] === name ? encode(value) : real;
  }
  let url = op.path.replace(/\{(\w+)\}/g, (_, name: string) => params[name]!);
  if (where === 'query' && op.query.length > 0) url += `?${op.query[keyPick % op.query.length]}=${encode(value)}`;
  else if (op.path === '/v1/batch-inputs') url += '?jobType=noop';
  const headers: Record<string, string> = {
    authorization: `Bearer ${role === 'platform' ? (stack.config.platformKey ?? stack.keys.admin) : stack.keys[role]}`,
  };
  let body: string | undefined;
  if (op.bodyType && op.bodyType !== 'multipart/form-data') {
    headers['content-type'] = op.path === '/v1/batch-inputs' ? 'application/json' : op.bodyType;
    const example = op.examples[keyPick % op.examples.length];
    body = where === 'body-text' ? bodyText : where === 'body' ? JSON.stringify(mutate(example, keyPick >> 2, value)) : JSON.stringify(example);
    if (op.path === '/v1/batch-inputs' && where !== 'body-text') body = JSON.stringify([mutate({ tag: 'x' }, keyPick, value)]);
  } else if (op.bodyType === 'multipart/form-data') {
    const form = new FormData();
    form.set('file', new Blob([where === 'body' ? String(value) : 'hello'], { type: 'text/plain' }), 'fuzz.txt');
    if (where === 'body-text') form.set('metadata', bodyText);
    else if (keyPick % 2) form.set('metadata', JSON.stringify(mutate({ title: 'fuzz', customer: 'acme' }, keyPick >> 1, value)));
    const res = new Request('http://x', { method: 'POST', body: form });
    headers['content-type'] = res.headers.get('content-type')!;
    body = await res.text();
  }
  const before = await fingerprint();
  const sentAt = new Date();
  const res = await fetch(`${stack.apiUrl}${url}`, { method: op.method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  seen.requests++;
  const label = `${op.method} ${url.slice(0, 200)} [${where}${where === 'body-text' ? ` ${bodyText.slice(0, 80)}` : ''}] → ${res.status} ${text.slice(0, 300)}`;
  expect(res.status, label).toBeLessThan(500);
  if (res.status >= 400) {
    seen.refused++;
    expect(res.headers.get('content-type'), label).toContain('application/problem+json');
    const problem = JSON.parse(text) as { type: string; errors?: { path: string }[]; detail?: string };
    expect(problem.type.startsWith(problemTypeBase), label).toBe(true);
    if (res.status === 400 && problem.type.endsWith('/validation-error')) expect(problem.errors?.[0]?.path ?? problem.detail, label).toBeTruthy();
    const after = await fingerprint();
    if (after !== before) await expectNoWorkflowSince(sentAt, before, after, label);
    else expect(after).toBe(before);
  } else {
    seen.accepted++;
  }
}

const sweepValues = ['\u0000', '\ud800', '\u202eevil', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00.000Z', 'x'.repeat(100_000), -1, 1e308, [], {}];
/** Every hostile body text (constantFrom's values, sampled until all are seen). */
const sweepBodies = [...new Set(fc.sample(hostileBodyText, { numRuns: 400, seed }))];

it('the sweep: every hostile body on every route that takes one, every hostile value in every query and path parameter', async () => {
  const ops = await operations();
  expect(ops.length).toBeGreaterThan(30);
  const samples: Sample[] = [];
  for (const op of ops) {
    if (op.bodyType) for (const bodyText of sweepBodies) samples.push({ op, where: 'body-text', value: null, bodyText, keyPick: 0, role: 'admin' });
    for (let q = 0; q < op.query.length; q++) for (const value of sweepValues) samples.push({ op, where: 'query', value, bodyText: '', keyPick: q, role: 'admin' });
    for (let p = 0; p < op.pathParams.length; p++) for (const value of sweepValues.slice(0, 4)) samples.push({ op, where: 'path', value, bodyText: '', keyPick: p, role: 'admin' });
  }
  for (const sample of samples) await send(sample);
  console.log(`fuzz sweep: ${samples.length} requests, none 5xx`);
}, 600_000);

it(`${runs} random hostile requests (seed ${seed}): none answers 5xx, every refusal is a problem and changes nothing`, async () => {
  const ops = await operations();
  const request = fc.record({
    op: fc.constantFrom(...ops),
    where: fc.constantFrom('path', 'query', 'body', 'body', 'body-text') as fc.Arbitrary<Sample['where']>,
    value: hostileValue,
    bodyText: hostileBodyText,
    keyPick: fc.nat(),
    role: fc.constantFrom('admin', 'submitter', 'platform') as fc.Arbitrary<Sample['role']>,
  });
  const out = await fc.check(fc.asyncProperty(request, send), { seed, numRuns: runs, endOnFailure: true });
  if (out.failed) {
    // fast-check's own report quotes the whole counterexample (values of 100 KB): the cause names the request.
    const cause = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
    throw new Error(`property failed after ${out.numRuns} requests (seed ${seed}, path ${out.counterexamplePath}):\n${cause.slice(0, 3000)}`);
  }
  console.log(`fuzz: ${seen.requests} requests in all (seed ${seed}), ${seen.refused} refused, ${seen.accepted} accepted, none 5xx`);
}, 600_000);
