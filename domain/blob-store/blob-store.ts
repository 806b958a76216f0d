/**
 * Where document bytes live. The API stores an upload once it is whole and
 * checked; workers read it to extract text and delete it with the document.
 * Keys are content-addressed per tenant (`tenants/<tenant>/<sha[0..2]>/<sha>`),
 * so a retried store writes the same object again, harmlessly.
 *
 * Implementations: the local filesystem (filesystem.ts, the default; API and
 * workers must share the directory) and any S3-compatible store (s3.ts);
 * factory.ts picks one from the config. This file is the interface both
 * implement, so neither imports the other.
 */
import type { Readable } from 'node:stream';

export interface StoredBlob {
  size: number;
}

export interface BlobStore {
  readonly kind: 'filesystem' | 's3';
  /** Where the API stages an upload before {@link BlobStore.putFile} (on the store's filesystem when it has one, so the put is a rename). */
  readonly stagingDir: string;
  /**
   * Stores the local file `localPath` under `key`, atomically: a reader sees
   * the whole object or none. The local file is consumed (moved or removed).
   */
  putFile(key: string, localPath: string, meta: { size: number; sha256: string; contentType: string }): Promise<void>;
  /** The object's bytes as a stream, or undefined when there is none. */
  get(key: string): Promise<Readable | undefined>;
  head(key: string): Promise<StoredBlob | undefined>;
  /** Removes the object; removing one that does not exist is not an error. */
  delete(key: string): Promise<void>;
  /** Every key under `prefix` (for audits and tests that look for orphans). */
  list(prefix: string): AsyncIterable<string>;
}

/** Content address of a document's bytes within its tenant. */
export function blobKeyFor(tenantId: string, sha256: string): string {
  return `tenants/${tenantId}/${sha256.slice(0, 2)}/${sha256}`;
}

/** Prefix of every blob of a tenant. */
export function tenantBlobPrefix(tenantId: string): string {
  return `tenants/${tenantId}/`;
}

/** Thrown by {@link readBlob} when the object is bigger than the caller allows. */
export class BlobTooLargeError extends Error {
  override name = 'BlobTooLargeError';
}

/** Reads a whole object into memory (at most `maxBytes`), or undefined when it is missing. */
export async function readBlob(store: BlobStore, key: string, maxBytes: number): Promise<Buffer | undefined> {
  const stream = await store.get(key);
  if (!stream) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      stream.destroy();
      throw new BlobTooLargeError(`blob ${key} is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const validKey = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

export function checkKey(key: string): void {
  if (!validKey.test(key) || key.split('/').some((p) => p === '.' || p === '..')) throw new Error(`invalid blob key: ${key}`);
}
