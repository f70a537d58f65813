import type { Config } from '#adapters/config.ts';
import type { ImageStore, Logger } from '#functions/ports.ts';
import { FsStore } from './fs-store.ts';
import { S3Store } from './s3-store.ts';

/**
 * The store `STORAGE` names, ready to use: `fs` → {@link FsStore} on `DATA_DIR`
 * (created, stale temp files swept); `s3` (alias `minio`) → {@link S3Store} on `S3_*`, its
 * bucket checked or created. The caller owns it and calls `close()`.
 */
export async function makeStore(config: Pick<Config, 'storage' | 'dataDir' | 's3'>, log: Logger): Promise<ImageStore> {
  if (config.storage === 'fs') return FsStore.open(config.dataDir, log);
  const store = new S3Store(config.s3, log);
  try {
    await store.ensureBucket();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
