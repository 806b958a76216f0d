/** Picking the blob store from the config (JOBPLANE_BLOB_STORE). */
import path from 'node:path';
import { ConfigError, type Config } from '../../runtime/config.ts';
import type { BlobStore } from './blob-store.ts';
import { FilesystemBlobStore } from './filesystem.ts';
import { S3BlobStore } from './s3.ts';

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
