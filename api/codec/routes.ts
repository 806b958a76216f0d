/**
 * The Temporal Web UI's remote codec: `POST …/decode` and `…/encode` with
 * `{"payloads":[{"metadata":{k: base64},"data": base64}]}`.
 *
 * Authenticated with a tenant API key, either as `Authorization: Bearer` or
 * — because the Web UI cannot add our header — embedded in the endpoint path
 * (`/codec/k/<key>`). The key the Web UI holds is a `codec` key: it decodes
 * its tenant's payloads here and can do nothing else (403 on every `/v1`
 * route), because the UI hands its codec endpoint, key and all, to anyone
 * who loads its settings. Engineers may also use their own viewer (or
 * higher) keys. A caller decodes only its own tenant's payloads: payloads of
 * other tenants come back unchanged, still encrypted, and the data keys are
 * per tenant, so no key of tenant B can open them.
 */
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import type { Payload } from '@temporalio/common';
import type { Db } from '../../db/client.ts';
import { CodecError, platformScope, type EncryptionCodec } from '../../runtime/codec.ts';
import type { Config } from '../../runtime/config.ts';
import { hashSecret } from '../http/api-keys.ts';
import { recordAudit } from '../../db/audit.ts';
import { callerForKey, requireRole, type Caller } from '../http/auth.ts';
import { refusalAuditEntry, ScopeRefusal } from '../http/key-scope.ts';
import { fieldErrors, problemBody, ProblemError } from '../http/problems.ts';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');
const CodecBody = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() })).max(10_000),
});
type WirePayload = z.infer<typeof CodecBody>['payloads'][number];

const fromWire = (p: WirePayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toWire = (p: Payload): WirePayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

export interface CodecDeps {
  db: Db;
  config: Config;
  codec: EncryptionCodec;
}

/**
 * The codec has no tenant gate in front of it (it is outside `/v1`), so a
 * scoped key's refusals here are audited at most once a minute per key: a
 * Web UI retrying in a loop must not become a write per request.
 */
const codecRefusalAuditEveryMs = 60_000;

export function codecRoutes(deps: CodecDeps) {
  const refusalsAudited = new Map<string, number>();
  const platformHash = deps.config.platformKey ? hashSecret(deps.config.platformKey) : undefined;
  const ui = new URL(deps.config.temporalUiUrl);
  // localhost and 127.0.0.1 are the same UI to a person, not to a browser's CORS check.
  const twin = ui.hostname === 'localhost' ? '127.0.0.1' : ui.hostname === '127.0.0.1' ? 'localhost' : undefined;
  const uiOrigins = [ui.origin, ...(twin ? [`${ui.protocol}//${twin}${ui.port ? `:${ui.port}` : ''}`] : [])];

  async function scopeOf(c: Context, pathKey?: string): Promise<string> {
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
    const presented = pathKey ?? bearer;
    const caller: Caller | undefined = presented ? await callerForKey(deps.db, platformHash, presented) : undefined;
    if (!caller) throw new ProblemError('unauthenticated', 'the codec needs a tenant API key (Authorization: Bearer, or /codec/k/<key>)');
    // The platform key may see platform-scoped payloads only, never a tenant's.
    if (caller.kind === 'platform') return platformScope;
    // A payload does not say which job it belongs to: a scoped key cannot be confined here, so it is refused (and audited).
    if (caller.scope) {
      const refusal = new ScopeRefusal('scope-forbidden', 'a scoped key cannot use the codec endpoint: payloads do not say which job they belong to', { reason: 'codec endpoint' });
      const last = refusalsAudited.get(caller.keyId) ?? 0;
      if (Date.now() - last >= codecRefusalAuditEveryMs) {
        refusalsAudited.set(caller.keyId, Date.now());
        // The route pattern, never the path: `/codec/k/<key>/…` carries the key itself.
        const entry = refusalAuditEntry(caller, refusal, { method: c.req.method, route: c.req.routePath, path: c.req.routePath, requestId: null, status: refusal.status });
        await recordAudit(deps.db, entry, 'denied');
      }
      throw refusal;
    }
    return caller.role === 'codec' ? caller.tenantId : requireRole(caller, 'viewer').tenantId;
  }

  async function payloadsOf(c: Context): Promise<Payload[]> {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (err) {
      throw new ProblemError('malformed-json', (err as Error).message);
    }
    const parsed = CodecBody.safeParse(body);
    if (!parsed.success) throw new ProblemError('validation-error', 'not a codec request', { errors: fieldErrors(parsed.error) });
    return parsed.data.payloads.map(fromWire);
  }

  const decode = async (c: Context, key?: string) => {
    const scope = await scopeOf(c, key);
    const payloads = (await payloadsOf(c)).map((p) => {
      try {
        return deps.codec.decryptFor(p, scope);
      } catch (err) {
        if (err instanceof CodecError) return p; // another tenant's, or tampered: stays encrypted
        throw err;
      }
    });
    return c.json({ payloads: payloads.map(toWire) });
  };
  const encode = async (c: Context, key?: string) => {
    const scope = await scopeOf(c, key);
    return c.json({ payloads: (await payloadsOf(c)).map((p) => toWire(deps.codec.encryptFor(p, scope))) });
  };

  const app = new Hono();
  app.use('*', cors({ origin: uiOrigins, allowMethods: ['POST', 'OPTIONS'], allowHeaders: ['content-type', 'x-namespace', 'authorization'], maxAge: 600 }));
  app.post('/decode', (c) => decode(c));
  app.post('/encode', (c) => encode(c));
  app.post('/k/:key/decode', (c) => decode(c, c.req.param('key')));
  app.post('/k/:key/encode', (c) => encode(c, c.req.param('key')));
  app.onError((err, c) => {
    const problem = err instanceof ProblemError ? err : new ProblemError('internal-error');
    return c.json(problemBody(problem, c.req.path), problem.status as 400, { 'content-type': 'application/problem+json' });
  });
  return app;
}
