/** First-start set-up of the dev stack: database, signing secret, `dev` tenant and its admin key. */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import postgres from 'postgres';
import { createApiKey, createTenant } from '../../api/tenants/service.ts';
import { parseApiKey } from '../../api/http/api-keys.ts';
import { createDb } from '../../db/client.ts';
import { apiKeys, tenants } from '../../db/schema/index.ts';

/** Creates database `name` on the server `serverUrl` points at, if missing; returns its URL. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  const sql = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Reads a secret file, or writes a new random one (mode 0600). */
export function readOrCreateSecret(file: string, prefix = '', make = () => randomBytes(32).toString('base64url')): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = prefix + make();
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * Makes sure tenant `dev` exists with a working admin key saved in
 * `<dataDir>/dev-api-key` (0600). Returns the key and whether it is new.
 */
export async function ensureDevTenant(databaseUrl: string, dataDir: string): Promise<{ key: string; created: boolean }> {
  return await ensureDevKey(databaseUrl, path.join(dataDir, 'dev-api-key'), 'dev admin (npm start)', 'admin');
}

/** A codec key of tenant `dev` for the Web UI's codec endpoint (`<dataDir>/ui-codec-key`): it can decode, nothing else. */
export async function ensureDevCodecKey(databaseUrl: string, dataDir: string): Promise<string> {
  return (await ensureDevKey(databaseUrl, path.join(dataDir, 'ui-codec-key'), 'Web UI codec (npm start)', 'codec')).key;
}

async function ensureDevKey(databaseUrl: string, keyFile: string, name: string, role: 'admin' | 'codec'): Promise<{ key: string; created: boolean }> {
  const { db, close } = createDb(databaseUrl, { max: 1 });
  try {
    const [tenant] = await db.select().from(tenants).where(eq(tenants.id, 'dev'));
    if (!tenant) await createTenant(db, 'dev', 'dev');
    if (existsSync(keyFile)) {
      const key = readFileSync(keyFile, 'utf8').trim();
      const parsed = parseApiKey(key);
      const [row] = parsed ? await db.select().from(apiKeys).where(eq(apiKeys.id, parsed.id)) : [];
      if (row && row.revokedAt === null && row.tenantId === 'dev' && row.role === role) return { key, created: false };
      // A key of another role in the file (a viewer key an older version gave the Web UI): revoke it, then issue the right one.
      if (row && row.revokedAt === null && row.role !== role) await db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, row.id));
    }
    const issued = await createApiKey(db, 'dev', { name, role });
    writeFileSync(keyFile, `${issued.key}\n`, { mode: 0o600 });
    return { key: issued.key, created: true };
  } finally {
    await close();
  }
}
