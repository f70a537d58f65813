import type { Config } from '#adapters/config.ts';
import { Slots } from '#adapters/slots.ts';
import type { ImageFetcher, ImageStore, ImagesRepo } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { applySharpSettings } from './sharp-settings.ts';

/**
 * The ports `processImage` runs with, as every worker wires them: the system
 * clock, the thumbnail settings and the transform slots from config. Applies the process-wide
 * sharp settings too, since every worker entry builds its deps here.
 */
export function processImageDeps(
  config: Pick<Config, 'thumbnailSize' | 'maxInputPixels' | 'testCrashOnUrl' | 'sharpConcurrency' | 'sharpCacheMb' | 'transformConcurrency'>,
  ports: { fetcher: ImageFetcher; store: ImageStore; images: ImagesRepo },
): ProcessImageDeps {
  applySharpSettings(config);
  return {
    ...ports,
    fetcher: config.testCrashOnUrl === undefined ? ports.fetcher : crashingOn(config.testCrashOnUrl, ports.fetcher),
    clock: { now: () => Date.now() },
    thumbnail: { size: config.thumbnailSize, maxInputPixels: config.maxInputPixels },
    transforms: new Slots(config.transformConcurrency),
  };
}

/** Test-only (`IMGPIPE_TEST_CRASH_ON_URL`): dies as an out-of-memory kill would, with no handler run, when about to fetch `url`. */
function crashingOn(url: string, fetcher: ImageFetcher): ImageFetcher {
  return {
    fetch(requested, signal) {
      if (requested === url) process.kill(process.pid, 'SIGKILL');
      return fetcher.fetch(requested, signal);
    },
  };
}
