import sharp from 'sharp';
import type { Config } from '#adapters/config.ts';

/**
 * Process-wide sharp settings for a worker, from config (see
 * docs/performance.md for the measurements behind the defaults):
 *
 * - `SHARP_CONCURRENCY` (default 1): libvips threads per image. Images already
 *   run `CONCURRENCY` at a time, one per libuv pool thread, so more threads
 *   per image only add hand-offs on a small machine.
 * - `SHARP_CACHE_MB` (default 0, off): libvips' operation cache. A worker never
 *   transforms the same input twice, so the cache only holds memory (up to
 *   50 MiB by sharp's default).
 */
export function applySharpSettings(config: Pick<Config, 'sharpConcurrency' | 'sharpCacheMb'>): void {
  if (config.sharpConcurrency > 0) sharp.concurrency(config.sharpConcurrency);
  sharp.cache(config.sharpCacheMb === 0 ? false : { memory: config.sharpCacheMb });
}
