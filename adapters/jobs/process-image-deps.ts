import type { Config } from '#adapters/config.ts';
import type { ImageFetcher, ImageStore, ImagesRepo } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';

/** The ports `processImage` runs with, as every worker wires them: the system clock and the thumbnail settings from config. */
export function processImageDeps(
  config: Pick<Config, 'thumbnailSize' | 'maxInputPixels'>,
  ports: { fetcher: ImageFetcher; store: ImageStore; images: ImagesRepo },
): ProcessImageDeps {
  return {
    ...ports,
    clock: { now: () => Date.now() },
    thumbnail: { size: config.thumbnailSize, maxInputPixels: config.maxInputPixels },
  };
}
