/**
 * The code version recorded in document lineage: `JOBPLANE_CODE_VERSION`
 * when set (a release tag or git commit, as CI or the image build knows it),
 * otherwise `<package version>+<12 hex of SHA-256 over activities/*.ts>`, so
 * a change to extraction, classification or chunking code changes the
 * version recorded with what it derives, even in a dev checkout.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(import.meta.url), '../..');

let cached: string | undefined;

export function codeVersion(configured: string | undefined): string {
  if (configured) return configured;
  if (cached) return cached;
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const dir = path.join(root, 'activities');
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
    hash.update(file).update('\0').update(readFileSync(path.join(dir, file))).update('\0');
  }
  cached = `${version}+${hash.digest('hex').slice(0, 12)}`;
  return cached;
}
