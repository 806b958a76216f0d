/**
 * The API without a Temporal server, for the unit tier (`npm run test:unit`):
 * the real Hono app from api/app.ts on a scratch Postgres database with
 * migrations, called with `app.request()` (no socket). Its Temporal client
 * is `Connection.lazy()` to an address nothing listens on, so nothing ever
 * connects: tests here only assert on answers given before a request would
 * reach Temporal (authentication, roles, validation, hostile input, rows
 * looked up in Postgres).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { createApp } from '../../api/app.ts';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { createDb, type Db } from '../../db/client.ts';
import { runMigrations } from '../../db/migrate.ts';
import type { ApiKeyRole } from '../../db/schema/index.ts';
import { loadConfig, type Config } from '../../runtime/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createScratchDatabase } from '../../scripts/lib/postgres.ts';
import { testCodecKeys, testSigningSecret } from './stack.ts';

/** Where the unit tier's Temporal client points: port 1 on loopback, where nothing listens. */
export const unusedTemporalAddress = '127.0.0.1:1';

export interface AppStack {
  config: Config;
  db: Db;
  app: ReturnType<typeof createApp>;
  tenantId: string;
  /** One key per role for the stack's tenant. */
  keys: Record<ApiKeyRole, string>;
  /**
   * `app.request()` with a role's key (`role: null` for none). A string or
   * byte body gets the `Content-Length` a client would send, and JSON's
   * content type unless one is given.
   */
  api(pathname: string, init?: RequestInit & { role?: ApiKeyRole | null }): Promise<Response>;
  close(): Promise<void>;
}

export async function startTestApp(name: string, opts: { env?: Record<string, string> } = {}): Promise<AppStack> {
  const suffix = randomBytes(4).toString('hex');
  const scratch = await createScratchDatabase(inject('databaseUrl'), `jp_unit_${name.replace(/\W/g, '_')}_${suffix}`);
  await runMigrations(scratch.url);
  const blobDir = mkdtempSync(path.join(tmpdir(), 'jobplane-unit-blobs-'));
  const config = loadConfig({
    DATABASE_URL: scratch.url,
    TEMPORAL_ADDRESS: unusedTemporalAddress,
    JOBPLANE_TASK_QUEUE_PREFIX: `${name}-${suffix}-`,
    JOBPLANE_WEBHOOK_SIGNING_SECRET: testSigningSecret,
    JOBPLANE_CODEC_KEYS: testCodecKeys,
    JOBPLANE_BLOB_DIR: blobDir,
    JOBPLANE_LOG_LEVEL: 'warn',
    ...opts.env,
  });
  const database = createDb(scratch.url, { max: 5 });
  // Lazy: connects on its first call, which no test here makes.
  const client = new Client({ connection: Connection.lazy({ address: unusedTemporalAddress }), namespace: config.temporalNamespace });
  const app = createApp({ config, db: database.db, client, log: createLogger('api-unit', process.env.JOBPLANE_TEST_API_LOG ?? 'error') });

  const tenant = await createTenant(database.db, `tenant-${name}-${suffix}`);
  const keys = {} as Record<ApiKeyRole, string>;
  for (const role of ['admin', 'operator', 'submitter', 'viewer', 'codec'] as const) {
    keys[role] = (await createApiKey(database.db, tenant.id, { name: `${role} key`, role })).key;
  }

  return {
    config,
    db: database.db,
    app,
    tenantId: tenant.id,
    keys,
    async api(pathname, init = {}) {
      const { role = 'admin', ...rest } = init;
      const headers = new Headers(rest.headers);
      if (role) headers.set('authorization', `Bearer ${keys[role]}`);
      if (typeof rest.body === 'string' || rest.body instanceof Uint8Array) {
        if (!headers.has('content-type')) headers.set('content-type', 'application/json');
        if (!headers.has('content-length')) headers.set('content-length', String(typeof rest.body === 'string' ? Buffer.byteLength(rest.body) : rest.body.byteLength));
      }
      return await app.request(pathname, { ...rest, headers });
    },
    async close() {
      await database.close();
      await scratch.drop().catch(() => {});
      rmSync(blobDir, { recursive: true, force: true });
    },
  };
}
