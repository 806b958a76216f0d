/**
 * Where document bytes live. The API stores an upload once it is whole and
 * checked; workers read it to extract text and delete it with the document.
 * Keys are content-addressed per tenant (`tenants/<tenant>/<sha[0..2]>/<sha>`),
 * so a retried store writes the same object again, harmlessly.
 *
 * Implementations: the local filesystem (default; API and workers must share
 * the directory) and any S3-compatible store (runtime/blob-store-s3.ts).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ConfigError, type Config } from './config.ts';
import { S3BlobStore } from './blob-store-s3.ts';

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

function checkKey(key: string): void {
  if (!validKey.test(key) || key.split('/').some((p) => p === '.' || p === '..')) throw new Error(`invalid blob key: ${key}`);
}

/**
 * Blobs as files under one root. A put copies (or moves) the file into
 * `<root>/.tmp/`, flushes it to disk, then renames it into place: rename is
 * atomic on one filesystem, so a crash leaves the old object or the new one,
 * never half of one.
 */
export class FilesystemBlobStore implements BlobStore {
  readonly kind = 'filesystem' as const;
  readonly stagingDir: string;
  constructor(readonly root: string) {
    this.stagingDir = path.join(root, '.tmp');
  }

  private pathOf(key: string): string {
    checkKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  async putFile(key: string, localPath: string): Promise<void> {
    const final = this.pathOf(key);
    const tmpDir = path.join(this.root, '.tmp');
    await fs.mkdir(tmpDir, { recursive: true });
    await fs.mkdir(path.dirname(final), { recursive: true });
    const tmp = path.join(tmpDir, `${randomBytes(8).toString('hex')}.part`);
    try {
      await fs.rename(localPath, tmp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      // Staging on another filesystem: copy, then drop the staged file.
      await fs.copyFile(localPath, tmp);
      await fs.rm(localPath, { force: true });
    }
    try {
      const handle = await fs.open(tmp, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, final);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Readable | undefined> {
    const file = this.pathOf(key);
    try {
      // Opened first, so a missing object is told apart from a read error; the stream owns (and closes) the handle.
      const handle = await fs.open(file, 'r');
      return handle.createReadStream();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async head(key: string): Promise<StoredBlob | undefined> {
    try {
      const st = await fs.stat(this.pathOf(key));
      return { size: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.pathOf(key), { force: true });
  }

  async *list(prefix: string): AsyncIterable<string> {
    const base = path.join(this.root, ...prefix.split('/').filter(Boolean));
    const entries = await fs.readdir(base, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const e of entries) {
      if (!e.isFile()) continue;
      const rel = path.relative(this.root, path.join(e.parentPath, e.name)).split(path.sep).join('/');
      if (!rel.startsWith('.tmp/')) yield rel;
    }
  }
}

/** The blob store the config asks for; fails fast on an incomplete `s3` setup. */
export function blobStoreFrom(
  config: Pick<
    Config,
    'blobStore' | 'blobDir' | 'blobS3Endpoint' | 'blobS3Region' | 'blobS3Bucket' | 'blobS3AccessKeyId' | 'blobS3SecretAccessKey' | 'blobS3PathStyle'
  >,
): BlobStore {
  if (config.blobStore === 'filesystem') return new FilesystemBlobStore(path.resolve(config.blobDir));
  const missing = (
    [
      ['JOBPLANE_BLOB_S3_ENDPOINT', config.blobS3Endpoint],
      ['JOBPLANE_BLOB_S3_BUCKET', config.blobS3Bucket],
      ['JOBPLANE_BLOB_S3_ACCESS_KEY_ID', config.blobS3AccessKeyId],
      ['JOBPLANE_BLOB_S3_SECRET_ACCESS_KEY', config.blobS3SecretAccessKey],
    ] as const
  )
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0) throw new ConfigError(`JOBPLANE_BLOB_STORE=s3 needs ${missing.join(', ')}`);
  return new S3BlobStore({
    endpoint: config.blobS3Endpoint!,
    region: config.blobS3Region,
    bucket: config.blobS3Bucket!,
    accessKeyId: config.blobS3AccessKeyId!,
    secretAccessKey: config.blobS3SecretAccessKey!,
    pathStyle: config.blobS3PathStyle,
  });
}
