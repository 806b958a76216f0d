/**
 * `/openapi.json` from a real stack is a valid OpenAPI 3.1 document (checked
 * by @seriousme/openapi-schema-validator against the official 3.1 schema,
 * which also resolves every `$ref`), it documents every `/v1` route the app
 * registers with `security` and problem responses, and `/docs` loads only
 * from this server.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { createLogger } from '../../runtime/logger.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

type Operation = { security?: unknown[]; responses?: Record<string, { content?: Record<string, unknown> }> };
type Spec = { openapi: string; paths: Record<string, Record<string, Operation>> };

const httpMethods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let stack: TestStack;
let spec: Spec;

beforeAll(async () => {
  stack = await startTestStack('openapi');
  const res = await fetch(`${stack.apiUrl}/openapi.json`);
  const text = await res.text();
  expect(res.status, text.slice(0, 500)).toBe(200);
  spec = JSON.parse(text) as Spec;
});
afterAll(async () => {
  await stack?.close();
});

async function validate(doc: unknown) {
  return await new Validator().validate(doc as Record<string, unknown>);
}

function operations(doc: Spec): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([m]) => httpMethods.includes(m))
      .map(([m, op]): [string, string, Operation] => [m, p, op]),
  );
}

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(spec.openapi).toMatch(/^3\.1\./);
    const result = await validate(spec);
    expect(result.errors, JSON.stringify(result.errors, null, 2)).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it('the validator rejects broken copies (so the check above can fail)', async () => {
    const noInfo = structuredClone(spec) as Spec & { info?: unknown };
    delete noInfo.info;
    expect((await validate(noInfo)).valid).toBe(false);

    const badResponses = structuredClone(spec);
    badResponses.paths['/v1/jobs']!.post!.responses = 'none' as never;
    expect((await validate(badResponses)).valid).toBe(false);

    const danglingRef = structuredClone(spec);
    danglingRef.paths['/v1/jobs']!.get!.responses!['200']!.content = { 'application/json': { schema: { $ref: '#/components/schemas/Nope' } } };
    expect((await validate(danglingRef)).valid).toBe(false);
  });

  it('documents every /v1 route the app registers', () => {
    const app = createApp({ config: stack.config, db: stack.db, client: stack.client, log: createLogger('openapi-test', 'silent') });
    const registered = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/'))
        .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = new Set(operations(spec).map(([m, p]) => `${m} ${p}`));
    expect(registered.size).toBeGreaterThanOrEqual(10);
    expect([...registered].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((d) => !registered.has(d))).toEqual([]);
  });

  it('every operation declares bearer security and a 4xx problem+json response', () => {
    const ops = operations(spec);
    expect(ops.length).toBeGreaterThan(0);
    for (const [method, p, op] of ops) {
      const where = `${method.toUpperCase()} ${p}`;
      expect(op.security, where).toEqual([{ bearerAuth: [] }]);
      const problems = Object.entries(op.responses ?? {}).filter(([status, r]) => /^4\d\d$/.test(status) && r.content?.['application/problem+json']);
      expect(problems.length, where).toBeGreaterThan(0);
    }
  });
});

describe('/docs', () => {
  it('serves HTML whose scripts and styles load from this server', async () => {
    const res = await fetch(`${stack.apiUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const html = await res.text();
    const refs = [...html.matchAll(/<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) {
      const url = new URL(ref, `${stack.apiUrl}/docs`);
      expect(url.origin, ref).toBe(stack.apiUrl);
      expect(url.pathname, ref).toMatch(/^\/docs\//);
      const asset = await fetch(url);
      expect(asset.status, ref).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, ref).toBeGreaterThan(1000);
    }
    expect(html).toContain("url: '/openapi.json'");
  });
});
