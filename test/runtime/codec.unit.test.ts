import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { CodecError, EncryptionCodec, generateCodecKeySpec, parseCodecKeys, tenantOfContext } from '../../runtime/codec.ts';

const ctx = (workflowId: string) => ({ type: 'workflow' as const, namespace: 'default', workflowId });
const payload = (value: unknown) => defaultPayloadConverter.toPayload(value);
const value = (p: Parameters<typeof defaultPayloadConverter.fromPayload>[0]) => defaultPayloadConverter.fromPayload(p);

describe('EncryptionCodec', () => {
  const k1 = generateCodecKeySpec('k1');
  const k2 = generateCodecKeySpec('k2');
  const codec = new EncryptionCodec(parseCodecKeys(`${k1},${k2}`, 'k2'));

  it('round-trips and leaves no plaintext in the encoded payload', async () => {
    const [enc] = await codec.encode([payload({ secret: 'hunter2-plaintext' })], ctx('ten_a:job_1'));
    expect(Buffer.from(enc!.data!).toString('latin1')).not.toContain('hunter2');
    expect(Buffer.from(enc!.metadata!['encryption-tenant']!).toString()).toBe('ten_a');
    expect(Buffer.from(enc!.metadata!['encryption-key-id']!).toString()).toBe('k2');
    const [dec] = await codec.decode([enc!]);
    expect(value(dec!)).toEqual({ secret: 'hunter2-plaintext' });
  });

  it('decrypts payloads of an older key after rotation; a codec without that key cannot', async () => {
    const old = new EncryptionCodec(parseCodecKeys(k1));
    const [enc] = await old.encode([payload('before rotation')], ctx('ten_a:job_2'));
    expect(value((await codec.decode([enc!]))[0]!)).toBe('before rotation');
    const newOnly = new EncryptionCodec(parseCodecKeys(k2));
    await expect(newOnly.decode([enc!])).rejects.toBeInstanceOf(CodecError);
  });

  it('decodes for one tenant only, and metadata edited to claim another tenant fails authentication', async () => {
    const [enc] = await codec.encode([payload('tenant a data')], ctx('ten_a:job_3'));
    expect(value(codec.decryptFor(enc!, 'ten_a'))).toBe('tenant a data');
    expect(() => codec.decryptFor(enc!, 'ten_b')).toThrow(CodecError);
    const forged = { ...enc!, metadata: { ...enc!.metadata, 'encryption-tenant': Buffer.from('ten_b') } };
    expect(() => codec.decryptFor(forged, 'ten_b')).toThrow(/could not be authenticated/);
  });

  it('passes unencrypted payloads through and scopes non-job workflows to the platform', async () => {
    const plain = payload(1);
    expect(await codec.decode([plain])).toEqual([plain]);
    expect(tenantOfContext(ctx('temporal-sys-batch'))).toBe('_platform');
    expect(tenantOfContext(undefined)).toBe('_platform');
  });

  it('rejects malformed key configuration', () => {
    expect(() => parseCodecKeys('k1:c2hvcnQ=')).toThrow(/32 bytes/);
    expect(() => parseCodecKeys(k1, 'k9')).toThrow(/not in JOBPLANE_CODEC_KEYS/);
    expect(() => parseCodecKeys('')).toThrow(/no key/);
  });
});
