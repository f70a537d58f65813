import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Bump when the drawing changes, so no process serves an older drawing's bytes. */
const DRAWING_VERSION = 1;

export interface SampleDiskCache {
  /** The cached bytes for `name`, or undefined. Never throws. */
  read(name: string): Promise<Buffer | undefined>;
  /** Stores `bytes` under `name` atomically; failures are ignored (the cache is an optimisation). */
  write(name: string, bytes: Buffer): Promise<void>;
}

/**
 * Rendered sample JPEGs kept on disk across processes, so the demo's sample
 * source draws each image once per machine rather than once per run: drawing
 * one costs ~15 ms of main-thread JavaScript that would otherwise compete with
 * the transform. The directory is per user in the OS temp directory, named
 * after the drawing version and the sharp and libvips versions (the bytes
 * depend on the encoder); it is used only if it is a directory this user owns
 * that no one else can write, so no other account can plant images in it.
 */
export function sampleDiskCache(root = tmpdir()): SampleDiskCache {
  const uid = process.getuid?.() ?? 0;
  const parent = join(root, `imgpipe-samples-${uid}`);
  let usable: Promise<string | undefined> | undefined;
  const ready = () => (usable ??= prepare(parent, uid));
  return {
    async read(name) {
      const dir = await ready();
      if (!dir) return undefined;
      return readFile(join(dir, name)).catch(() => undefined);
    },
    async write(name, bytes) {
      const dir = await ready();
      if (!dir) return;
      const temp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
      try {
        await writeFile(temp, bytes, { mode: 0o600 });
        await rename(temp, join(dir, name));
      } catch {
        await rm(temp, { force: true }).catch(() => {});
      }
    },
  };
}

/** The cache directory for this drawing and sharp build, or undefined when it is not safe to use. */
async function prepare(parent: string, uid: number): Promise<string | undefined> {
  try {
    const { default: sharp } = await import('sharp');
    const dir = join(parent, `v${DRAWING_VERSION}-sharp${sharp.versions.sharp}-vips${sharp.versions.vips}`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    for (const path of [parent, dir]) {
      const stats = await lstat(path);
      if (!stats.isDirectory() || stats.uid !== uid || (stats.mode & 0o022) !== 0) return undefined;
    }
    return dir;
  } catch {
    return undefined;
  }
}
