/**
 * The blob stores: one contract, run against the filesystem store and the
 * S3 store talking to a real S3-compatible server (gofakes3, built from the
 * Go module proxy like the Temporal CLI); the SigV4 signer against the
 * worked example of AWS's Signature Version 4 documentation; and the whole
 * document path (upload → ingest → content → delete) with
 * JOBPLANE_BLOB_STORE=s3.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobKeyFor, readBlob, type BlobStore } from '../../domain/blob-store/blob-store.ts';
import { FilesystemBlobStore } from '../../domain/blob-store/filesystem.ts';
import { S3BlobStore, signS3Request } from '../../domain/blob-store/s3.ts';
import { ensureGofakes3, startFakeS3, type FakeS3 } from '../../scripts/lib/gofakes3.ts';
import { makePdf, search, uploadNew, waitForDocument } from '../helpers/documents.ts';
import { startTestStack, type TestStack } from '../helpers/stack.ts';

let s3: FakeS3;
const fsRoot = mkdtempSync(path.join(tmpdir(), 'jobplane-fs-store-'));
const credentials = { accessKeyId: 'test-access-key', secretAccessKey: 'test-secret-key' };

beforeAll(async () => {
  s3 = await startFakeS3(await ensureGofakes3({ quiet: true }), 'jobplane-test');
}, 180_000);
afterAll(async () => {
  await s3?.stop();
  rmSync(fsRoot, { recursive: true, force: true });
});

function staged(bytes: string): { file: string; size: number; sha256: string } {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'jobplane-staged-')), 'upload.part');
  writeFileSync(file, bytes);
  return { file, size: Buffer.byteLength(bytes), sha256: createHash('sha256').update(bytes).digest('hex') };
}

const stores: [string, () => BlobStore][] = [
  ['filesystem', () => new FilesystemBlobStore(fsRoot)],
  ['s3 (gofakes3)', () => new S3BlobStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: s3.bucket, ...credentials })],
];

describe.each(stores)('%s blob store', (_name, make) => {
  it('puts, heads, reads, lists and deletes objects; a missing one reads as undefined; deleting twice is fine', async () => {
    const store = make();
    const a = staged('first document bytes');
    const b = staged('second document bytes, a little longer');
    const keyA = blobKeyFor('ten_a', a.sha256);
    const keyB = blobKeyFor('ten_a', b.sha256);
    const keyOther = blobKeyFor('ten_b', a.sha256);
    await store.putFile(keyA, a.file, { size: a.size, sha256: a.sha256, contentType: 'text/plain' });
    await store.putFile(keyB, b.file, { size: b.size, sha256: b.sha256, contentType: 'text/plain' });
    const c = staged('first document bytes');
    await store.putFile(keyOther, c.file, { size: c.size, sha256: c.sha256, contentType: 'text/plain' });

    expect(await store.head(keyA)).toEqual({ size: a.size });
    expect((await readBlob(store, keyB, 1024))!.toString()).toBe('second document bytes, a little longer');
    const listed: string[] = [];
    for await (const k of store.list('tenants/ten_a/')) listed.push(k);
    expect(listed.sort()).toEqual([keyA, keyB].sort());
    // Storing the same content again is harmless (a retried upload).
    const again = staged('first document bytes');
    await store.putFile(keyA, again.file, { size: again.size, sha256: again.sha256, contentType: 'text/plain' });
    expect(await store.head(keyA)).toEqual({ size: a.size });

    await store.delete(keyA);
    await store.delete(keyA);
    expect(await store.head(keyA)).toBeUndefined();
    expect(await store.get(keyA)).toBeUndefined();
    expect(await readBlob(store, keyOther, 1024)).toEqual(Buffer.from('first document bytes'));
    await expect(readBlob(store, keyB, 5)).rejects.toThrow(/larger than 5 bytes/);
    await store.delete(keyB);
    await store.delete(keyOther);
  });
});

describe('SigV4', () => {
  it('matches the worked example of the AWS documentation (GET Object with a Range header)', () => {
    const signed = signS3Request(
      { region: 'us-east-1', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      'GET',
      new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      { range: 'bytes=0-9' },
      new Date('2013-05-24T00:00:00Z'),
    );
    expect(signed.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });
});

describe('documents on the S3 store', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack('doc-s3', {
      env: {
        JOBPLANE_BLOB_STORE: 's3',
        JOBPLANE_BLOB_S3_ENDPOINT: s3.endpoint,
        JOBPLANE_BLOB_S3_BUCKET: s3.bucket,
        JOBPLANE_BLOB_S3_ACCESS_KEY_ID: credentials.accessKeyId,
        JOBPLANE_BLOB_S3_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      },
    });
    await stack.startWorkers();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('upload stores the bytes in the bucket, the workers ingest from it, content streams from it, delete removes it', async () => {
    const store = new S3BlobStore({ endpoint: s3.endpoint, region: 'us-east-1', bucket: s3.bucket, ...credentials });
    const pdf = await makePdf(['Statement of work for the Ptarmigan project.\nThis Agreement between the parties.']);
    const { id } = await uploadNew(stack, pdf, { filename: 'sow.pdf', type: 'application/pdf' });
    const doc = await waitForDocument(stack, id);
    expect(doc).toMatchObject({ status: 'ingested', pageCount: 1 });
    const key = blobKeyFor(stack.tenantId, String(doc.sha256));
    expect(await store.head(key)).toEqual({ size: pdf.length });
    expect((await search(stack, 'ptarmigan')).items.map((h) => h.documentId)).toEqual([id]);
    const content = await stack.api(`/v1/documents/${id}/content`, { role: 'viewer' });
    expect(Buffer.from(await content.arrayBuffer()).equals(Buffer.from(pdf))).toBe(true);
    expect((await stack.api(`/v1/documents/${id}`, { method: 'DELETE', role: 'submitter' })).status).toBe(204);
    expect(await store.head(key)).toBeUndefined();
    const left: string[] = [];
    for await (const k of store.list(`tenants/${stack.tenantId}/`)) left.push(k);
    expect(left).toEqual([]);
  });
});
