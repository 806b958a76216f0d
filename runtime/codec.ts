/**
 * Payload encryption: AES-256-GCM with a data key per tenant, derived with
 * HKDF from a master key. The Temporal server only ever stores ciphertext.
 *
 * - Rotation: several master keys are accepted for decryption (looked up by the
 *   key id in each payload's metadata); one current key encrypts.
 * - Tenant isolation: the tenant comes from the serialization context's
 *   workflow id (`<tenantId>:<jobId>`), is written into the metadata and bound
 *   into the ciphertext as additional authenticated data. Decoding for a
 *   caller of tenant B refuses tenant A's payloads, and editing the metadata
 *   to claim another tenant breaks the authentication tag.
 * - Payloads of workflows that are not jobs (no tenant in the id) use the
 *   platform scope `_platform`.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';

export const encryptedEncoding = 'binary/encrypted';
export const platformScope = '_platform';

const meta = {
  encoding: 'encoding',
  keyId: 'encryption-key-id',
  tenant: 'encryption-tenant',
} as const;

export interface MasterKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

export interface CodecKeys {
  keys: MasterKey[];
  currentKeyId: string;
}

/** Thrown when a payload cannot be decrypted for this caller (wrong tenant, unknown key, tampered data). */
export class CodecError extends Error {
  override name = 'CodecError';
}

/**
 * Parses `JOBPLANE_CODEC_KEYS` (`id:base64key,id2:base64key`) and the current
 * key id. Each key must decode to exactly 32 bytes.
 */
export function parseCodecKeys(spec: string, currentKeyId?: string): CodecKeys {
  const keys = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const i = entry.indexOf(':');
      const id = entry.slice(0, i);
      const key = Buffer.from(entry.slice(i + 1), 'base64');
      if (i <= 0 || !/^[A-Za-z0-9_.-]{1,32}$/.test(id)) throw new Error(`JOBPLANE_CODEC_KEYS: bad key id in "${id}:…"`);
      if (key.length !== 32) throw new Error(`JOBPLANE_CODEC_KEYS: key "${id}" must be 32 bytes of base64, got ${key.length}`);
      return { id, key };
    });
  if (keys.length === 0) throw new Error('JOBPLANE_CODEC_KEYS holds no key');
  const current = currentKeyId ?? keys.at(-1)!.id;
  if (!keys.some((k) => k.id === current)) throw new Error(`JOBPLANE_CODEC_CURRENT_KEY "${current}" is not in JOBPLANE_CODEC_KEYS`);
  return { keys, currentKeyId: current };
}

/** A fresh random key in the `id:base64` form of JOBPLANE_CODEC_KEYS. */
export function generateCodecKeySpec(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

/** Tenant scope of a payload from its serialization context. */
export function tenantOfContext(context: SerializationContext | undefined): string {
  const workflowId = context?.workflowId;
  const i = workflowId?.indexOf(':') ?? -1;
  return i > 0 ? workflowId!.slice(0, i) : platformScope;
}

function dataKey(master: MasterKey, tenant: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master.key, Buffer.from('jobplane-codec-v1'), Buffer.from(`tenant:${tenant}`), 32));
}

function aad(keyId: string, tenant: string): Buffer {
  return Buffer.from(`${keyId}\n${tenant}`);
}

const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/** Derived keys kept per codec: HKDF on every payload was the API process's top crypto cost (bench W2 profile). */
const maxCachedDataKeys = 10_000;

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: Map<string, MasterKey>;
  private readonly dataKeys = new Map<string, Buffer>();

  constructor(private readonly keys: CodecKeys) {
    this.byId = new Map(keys.keys.map((k) => [k.id, k]));
  }

  /** The tenant's data key under `master`, derived once (bounded: a cache, cleared when full). */
  private dataKeyFor(master: MasterKey, tenant: string): Buffer {
    const cacheKey = `${master.id}\n${tenant}`;
    let key = this.dataKeys.get(cacheKey);
    if (!key) {
      if (this.dataKeys.size >= maxCachedDataKeys) this.dataKeys.clear();
      key = dataKey(master, tenant);
      this.dataKeys.set(cacheKey, key);
    }
    return key;
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((p) => this.encryptOne(p, tenantOfContext(context)));
  }

  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    void context; // the tenant is read from each payload's own metadata
    return payloads.map((p) => this.decryptOne(p));
  }

  /** Encrypts for an explicit tenant (the codec endpoint's `/encode`). */
  encryptFor(payload: Payload, tenant: string): Payload {
    return this.encryptOne(payload, tenant);
  }

  /**
   * Decrypts only payloads of `allowedTenant`; others throw {@link CodecError}.
   * Payloads that are not encrypted pass through.
   */
  decryptFor(payload: Payload, allowedTenant: string): Payload {
    return this.decryptOne(payload, allowedTenant);
  }

  private encryptOne(payload: Payload, tenant: string): Payload {
    const master = this.byId.get(this.keys.currentKeyId)!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.dataKeyFor(master, tenant), iv);
    cipher.setAAD(aad(master.id, tenant));
    const plain = Buffer.from(JSON.stringify({ metadata: mapToJson(payload.metadata), data: Buffer.from(payload.data ?? []).toString('base64') }));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return {
      metadata: {
        [meta.encoding]: Buffer.from(encryptedEncoding),
        [meta.keyId]: Buffer.from(master.id),
        [meta.tenant]: Buffer.from(tenant),
      },
      data: Buffer.concat([iv, cipher.getAuthTag(), body]),
    };
  }

  private decryptOne(payload: Payload, allowedTenant?: string): Payload {
    if (text(payload.metadata?.[meta.encoding]) !== encryptedEncoding) return payload;
    const keyId = text(payload.metadata?.[meta.keyId]) ?? '';
    const tenant = text(payload.metadata?.[meta.tenant]) ?? '';
    if (allowedTenant !== undefined && tenant !== allowedTenant) throw new CodecError('payload belongs to another tenant');
    const master = this.byId.get(keyId);
    if (!master) throw new CodecError(`unknown encryption key id "${keyId}"`);
    const data = Buffer.from(payload.data ?? []);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.dataKeyFor(master, tenant), data.subarray(0, 12));
      decipher.setAAD(aad(keyId, tenant));
      decipher.setAuthTag(data.subarray(12, 28));
      const plain = Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]);
      const inner = JSON.parse(plain.toString('utf8')) as { metadata: Record<string, string>; data: string };
      return { metadata: jsonToMap(inner.metadata), data: Buffer.from(inner.data, 'base64') };
    } catch {
      throw new CodecError('payload could not be authenticated (tampered, or encrypted for another scope)');
    }
  }
}

function mapToJson(m: Payload['metadata']): Record<string, string> {
  return Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]));
}

function jsonToMap(m: Record<string, string>): Record<string, Uint8Array> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}
