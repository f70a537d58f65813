import type { Config } from '#adapters/config.ts';
import type { ImageStore, Logger } from '#functions/ports.ts';
import { FsStore } from './fs-store.ts';

/**
 * The S3 store, loaded only where `STORAGE` asks for it: the AWS SDK is the
 * largest part of every bundle, and evaluating it would slow the start of
 * every process that writes to a directory.
 */
async function loadS3Store() {
  return (await import('./s3-store.ts')).S3Store;
}

/**
 * The store `STORAGE` names, ready to use: `fs` → {@link FsStore} on `DATA_DIR`
 * (created, stale temp files swept); `s3` (alias `minio`) → {@link S3Store} on `S3_*`, its
 * bucket checked or created. The caller owns it and calls `close()`.
 */
export async function makeStore(config: Pick<Config, 'storage' | 'dataDir' | 's3'>, log: Logger): Promise<ImageStore> {
  if (config.storage === 'fs') return FsStore.open(config.dataDir, log);
  const S3Store = await loadS3Store();
  const store = new S3Store(config.s3, log);
  try {
    await store.ensureBucket();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/**
 * The same store, for a process that only reads from it (the api serving
 * thumbnails): it creates no directory or bucket and sweeps nothing, so a
 * read-only mount of `DATA_DIR` is enough.
 */
export async function makeReadOnlyStore(config: Pick<Config, 'storage' | 'dataDir' | 's3'>, log: Logger): Promise<ImageStore> {
  if (config.storage === 'fs') return FsStore.open(config.dataDir, log, { readOnly: true });
  const S3Store = await loadS3Store();
  return new S3Store(config.s3, log);
}
