import { createHash, randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readdir, readFile, rm, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { TransientError } from '#functions/errors.ts';
import type { ImageStore, Logger, PutOutcome, StoredObject } from '#functions/ports.ts';
import { coalescedRun } from './coalesced-run.ts';
import { assertOutputKey } from './output-key.ts';

export interface FsStoreOptions {
  /** Temp files older than this are a crashed writer's leftovers and are removed on open. */
  readonly staleTempMs?: number;
  readonly now?: () => number;
  /** For a process that only reads (the api serving thumbnails): create nothing, sweep nothing. */
  readonly readOnly?: boolean;
}

const DEFAULT_STALE_TEMP_MS = 10 * 60_000;

/**
 * `.<key>.<writer>.<random>.tmp`, with a key's `/` written as `~`: dot-prefixed
 * and not ending in an output's extension, so nothing mistakes it for an output.
 */
const TEMP_FILE = /^\..+\.[0-9a-f]{16}\.tmp$/;

/**
 * `<host hash>-<pid>-<run>`: which process wrote a temp file, so a restart on
 * the same host removes a killed writer's at once (`run` tells a restarted
 * container's pid 1 from the one before).
 */
const WRITER = /\.([0-9a-f]{12})-(\d+)-([0-9a-f]{8})\.[0-9a-f]{16}\.tmp$/;
const HOST_TAG = createHash('sha256').update(hostname()).digest('hex').slice(0, 12);
const RUN_TAG = randomBytes(4).toString('hex');

/**
 * {@link ImageStore} over one directory (`DATA_DIR`).
 *
 * `putIfAbsent` writes `.<key>.<random>.tmp` in the top directory, fsyncs it,
 * then publishes it with `link(tmp, <key>)`, which fails with `EEXIST` when the
 * output is already there: a reader sees the whole file or none, and of two
 * concurrent writers exactly one answers `written`. A key `<id>/<name>.<ext>`
 * gets its `<id>/` directory made first; its temp file still lives in the top
 * directory (same filesystem, so `link` works), where one sweep finds every
 * leftover. The temp file is removed in every case; one left by a crash is
 * swept by {@link FsStore.open}: at once when its writer ran on this host and
 * is gone, otherwise once it is older than `staleTempMs`, so a writer sharing
 * the volume is not disturbed.
 * Writers that publish into one directory at the same time share its fsync
 * ({@link coalescedRun}); each still returns only once its own entry is durable.
 *
 * I/O failures are `TransientError` with code `FS_<errno>` (`FS_ENOSPC`,
 * `FS_EACCES`, …). The directory needs a filesystem with hard links.
 *
 * @example
 * const store = await FsStore.open('/data', log);
 * await store.putIfAbsent('42.jpg', bytes, 'image/jpeg'); // → 'written', then 'exists'
 * await store.putIfAbsent('42/w640.webp', bytes, 'image/webp'); // → 'written': /data/42/w640.webp
 */
export class FsStore implements ImageStore {
  /** One coalesced fsync per directory written into. */
  private readonly dirSyncs = new Map<string, () => Promise<void>>();

  private constructor(readonly dir: string) {}

  /** Creates the directory if needed and removes stale temp files (neither when `readOnly`). */
  static async open(dir: string, log: Logger, options: FsStoreOptions = {}): Promise<FsStore> {
    const store = new FsStore(resolve(dir));
    if (options.readOnly) return store;
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
    const temp = join(this.dir, `.${key.replace('/', '~')}.${HOST_TAG}-${process.pid}-${RUN_TAG}.${randomBytes(8).toString('hex')}.tmp`);
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
      const parent = dirname(path);
      const madeParent = parent !== this.dir && (await io('create the directory', parent, () => mkdir(parent, { recursive: true }))) !== undefined;
      try {
        await link(temp, path);
      } catch (error) {
        if (errnoOf(error) === 'EEXIST') return 'exists';
        throw ioError('publish', path, error);
      }
      await io('sync the directory of', path, () => this.syncDirShared(parent));
      if (madeParent) await io('sync the directory of', parent, () => this.syncDirShared(this.dir));
      return 'written';
    } finally {
      await unlink(temp).catch(() => {});
    }
  }

  async read(key: string): Promise<StoredObject | undefined> {
    const path = this.locate(key);
    try {
      return { data: await readFile(path), contentType: undefined };
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return undefined;
      throw ioError('read', path, error);
    }
  }

  private syncDirShared(dir: string): Promise<void> {
    let sync = this.dirSyncs.get(dir);
    if (!sync) {
      sync = coalescedRun(() => syncDir(dir));
      this.dirSyncs.set(dir, sync);
    }
    return sync();
  }

  locate(key: string): string {
    return join(this.dir, assertOutputKey(key));
  }

  async close(): Promise<void> {}

  private async sweepStaleTemps(log: Logger, staleTempMs: number, now: () => number): Promise<void> {
    const names = await io('list', this.dir, () => readdir(this.dir));
    for (const name of names.filter((entry) => TEMP_FILE.test(entry))) {
      const path = join(this.dir, name);
      try {
        const ageMs = now() - (await lstat(path)).mtimeMs;
        if (ageMs < staleTempMs && !leftByDeadWriter(name)) continue;
        await rm(path, { force: true });
        log.warn({ file: path, ageMs: Math.round(ageMs) }, 'removed stale temp file');
      } catch (error) {
        // Another process may have published or swept it in the meantime.
        if (errnoOf(error) !== 'ENOENT') throw ioError('remove', path, error);
      }
    }
  }
}

/**
 * A temp file of a process on this host that is gone: its pid no longer runs,
 * or it is this pid from an earlier run (a restarted container's pid 1).
 * Writers on other hosts are judged by age alone.
 */
function leftByDeadWriter(name: string): boolean {
  const [, host, pid, run] = WRITER.exec(name) ?? [];
  if (host !== HOST_TAG || pid === undefined) return false;
  if (Number(pid) === process.pid) return run !== RUN_TAG;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return errnoOf(error) === 'ESRCH';
  }
}

/** Makes a new directory entry durable: without it a power cut may lose a `written` file. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
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
