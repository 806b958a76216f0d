/** The default blob store: files under one directory the API and the workers share. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { checkKey, type BlobStore, type StoredBlob } from './blob-store.ts';

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
