import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, rm, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TransientError } from '#functions/errors.ts';
import type { ImageStore, Logger, PutOutcome } from '#functions/ports.ts';
import { coalescedRun } from './coalesced-run.ts';
import { assertOutputKey } from './output-key.ts';

export interface FsStoreOptions {
  /** Temp files older than this are a crashed writer's leftovers and are removed on open. */
  readonly staleTempMs?: number;
  readonly now?: () => number;
}

const DEFAULT_STALE_TEMP_MS = 10 * 60_000;

/** `.<key>.<random>.tmp`: dot-prefixed and not ending in `.jpg`, so nothing mistakes it for an output. */
const TEMP_FILE = /^\..+\.[0-9a-f]{16}\.tmp$/;

/**
 * {@link ImageStore} over one directory (`DATA_DIR`).
 *
 * `putIfAbsent` writes `.<key>.<random>.tmp` in the same directory, fsyncs it,
 * then publishes it with `link(tmp, <key>)`, which fails with `EEXIST` when the
 * output is already there: a reader sees the whole file or none, and of two
 * concurrent writers exactly one answers `written`. The temp file is removed in
 * every case; one left by a crash is swept by {@link FsStore.open} once it is
 * older than `staleTempMs`, so a writer sharing the volume is not disturbed.
 * Writers that publish at the same time share the directory's fsync
 * ({@link coalescedRun}); each still returns only once its own entry is durable.
 *
 * I/O failures are `TransientError` with code `FS_<errno>` (`FS_ENOSPC`,
 * `FS_EACCES`, …). The directory needs a filesystem with hard links.
 *
 * @example
 * const store = await FsStore.open('/data', log);
 * await store.putIfAbsent('42.jpg', bytes, 'image/jpeg'); // → 'written', then 'exists'
 */
export class FsStore implements ImageStore {
  private readonly syncDirShared = coalescedRun(() => this.syncDir());

  private constructor(readonly dir: string) {}

  /** Creates the directory if needed and removes stale temp files. */
  static async open(dir: string, log: Logger, options: FsStoreOptions = {}): Promise<FsStore> {
    const store = new FsStore(resolve(dir));
    await io('create the data directory', store.dir, () => mkdir(store.dir, { recursive: true }));
    await store.sweepStaleTemps(log, options.staleTempMs ?? DEFAULT_STALE_TEMP_MS, options.now ?? Date.now);
    return store;
  }

  async exists(key: string): Promise<boolean> {
    const path = this.locate(key);
    try {
      // lstat, not stat: any entry under that name makes link() answer EEXIST, so "exists" must agree.
      await lstat(path);
      return true;
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return false;
      throw ioError('check', path, error);
    }
  }

  async putIfAbsent(key: string, data: Uint8Array, _contentType: string): Promise<PutOutcome> {
    const path = this.locate(key);
    const temp = join(this.dir, `.${key}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      await io('write', temp, async () => {
        const handle = await open(temp, 'wx', 0o644);
        try {
          await handle.writeFile(data);
          await handle.sync();
        } finally {
          await handle.close();
        }
      });
      try {
        await link(temp, path);
      } catch (error) {
        if (errnoOf(error) === 'EEXIST') return 'exists';
        throw ioError('publish', path, error);
      }
      await io('sync the directory of', path, () => this.syncDirShared());
      return 'written';
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  locate(key: string): string {
    return join(this.dir, assertOutputKey(key));
  }

  async close(): Promise<void> {}

  /** Makes the new directory entry durable: without it a power cut may lose a `written` file. */
  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  private async sweepStaleTemps(log: Logger, staleTempMs: number, now: () => number): Promise<void> {
    const names = await io('list', this.dir, () => readdir(this.dir));
    for (const name of names.filter((entry) => TEMP_FILE.test(entry))) {
      const path = join(this.dir, name);
      try {
        const ageMs = now() - (await lstat(path)).mtimeMs;
        if (ageMs < staleTempMs) continue;
        await rm(path, { force: true });
        log.warn({ file: path, ageMs: Math.round(ageMs) }, 'removed stale temp file');
      } catch (error) {
        // Another process may have published or swept it in the meantime.
        if (errnoOf(error) !== 'ENOENT') throw ioError('remove', path, error);
      }
    }
  }
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function ioError(action: string, path: string, error: unknown): TransientError {
  const errno = errnoOf(error) ?? 'IO';
  return new TransientError(`FS_${errno}`, `cannot ${action} ${path}: ${errno}`, { cause: error });
}

async function io<T>(action: string, path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw ioError(action, path, error);
  }
}
