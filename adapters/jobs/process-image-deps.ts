import type { Config } from '#adapters/config.ts';
import type { ImageFetcher, ImageStore, ImagesRepo } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { applySharpSettings } from './sharp-settings.ts';

/**
 * The ports `processImage` runs with, as every worker wires them: the system
 * clock and the thumbnail settings from config. Applies the process-wide
 * sharp settings too, since every worker entry builds its deps here.
 */
export function processImageDeps(
  config: Pick<Config, 'thumbnailSize' | 'maxInputPixels' | 'sharpConcurrency' | 'sharpCacheMb'>,
  ports: { fetcher: ImageFetcher; store: ImageStore; images: ImagesRepo },
): ProcessImageDeps {
  applySharpSettings(config);
  return {
    ...ports,
    clock: { now: () => Date.now() },
    thumbnail: { size: config.thumbnailSize, maxInputPixels: config.maxInputPixels },
  };
}
