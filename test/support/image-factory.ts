import sharp, { type Sharp } from 'sharp';
import type { ThumbnailJob } from '#functions/job.ts';

export interface JpegOptions {
  /** JPEG quality, 1..100 (default 85). */
  readonly quality?: number;
  /** Shifts the pattern, so two images of one size differ (default 0). */
  readonly seed?: number;
}

/**
 * Raw RGB pixels that do not compress like a flat fill: a horizontal red ramp,
 * a vertical green ramp and a blue checker-like texture.
 */
function patternPixels(width: number, height: number, seed = 0): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  let offset = 0;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1, offset += 3) {
      pixels[offset] = Math.floor((x * 255) / Math.max(1, width - 1));
      pixels[offset + 1] = Math.floor((y * 255) / Math.max(1, height - 1));
      pixels[offset + 2] = (((x + seed) ^ y) & 63) * 4;
    }
  }
  return pixels;
}

function patterned(width: number, height: number, seed = 0): Sharp {
  return sharp(patternPixels(width, height, seed), { raw: { width, height, channels: 3 } });
}

/** A sRGB JPEG of `width` x `height` with non-flat content and no EXIF orientation. */
export function jpegOf(width: number, height: number, options: JpegOptions = {}): Promise<Buffer> {
  return patterned(width, height, options.seed)
    .jpeg({ quality: options.quality ?? 85 })
    .toBuffer();
}

/**
 * A JPEG stored as `width` x `height` and tagged with an EXIF orientation
 * (1..8). With 5..8 the displayed image is `height` wide and `width` tall:
 * `jpegWithOrientation(600, 300, 6)` shows as 300x600 once the tag is applied.
 */
export function jpegWithOrientation(width: number, height: number, exifOrientation: number): Promise<Buffer> {
  return patterned(width, height).jpeg({ quality: 85 }).withMetadata({ orientation: exifOrientation }).toBuffer();
}

/** A JPEG carrying an EXIF copyright, for checking what `strip` keeps. */
export function jpegWithCopyright(width: number, height: number, copyright: string): Promise<Buffer> {
  return patterned(width, height).jpeg({ quality: 85 }).withExif({ IFD0: { Copyright: copyright } }).toBuffer();
}

/** An animated GIF of `frames` flat frames (red, green, blue, …), each `width` x `height`. */
export async function animatedGif(width: number, height: number, frames: number): Promise<Buffer> {
  const colours = ['#ff0000', '#00ff00', '#0000ff'];
  const pages = await Promise.all(
    Array.from({ length: frames }, (_, index) =>
      sharp({ create: { width, height, channels: 3, background: colours[index % colours.length]! } }).png().toBuffer(),
    ),
  );
  return sharp(pages, { join: { animated: true } }).gif({ delay: pages.map(() => 100), loop: 0 }).toBuffer();
}

/** A PNG with an alpha channel: the pattern, half of it transparent. */
export function pngWithAlpha(width: number, height: number): Promise<Buffer> {
  const rgb = patternPixels(width, height);
  const rgba = Buffer.alloc(width * height * 4);
  for (let pixel = 0; pixel < width * height; pixel += 1) {
    rgb.copy(rgba, pixel * 4, pixel * 3, pixel * 3 + 3);
    rgba[pixel * 4 + 3] = pixel % width < width / 2 ? 0 : 255;
  }
  return sharp(rgba, { raw: { width, height, channels: 4 } }).png().toBuffer();
}

export type RgbColour = readonly [number, number, number];

/**
 * A flat JPEG whose colour is `srgb` (as an sRGB triple) converted into another
 * colour space with sharp's built-in profile, and that profile embedded:
 * `cmyk` gives a 4-channel CMYK JPEG, `p3` a Display P3 RGB JPEG. A reader that
 * honours the profile gets `srgb` back (within rounding); one that ignores it
 * sees other numbers.
 */
export function jpegInColourProfile(
  width: number,
  height: number,
  profile: 'cmyk' | 'p3',
  srgb: RgbColour = [200, 80, 60],
): Promise<Buffer> {
  const [r, g, b] = srgb;
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .withIccProfile(profile)
    .jpeg({ quality: 95 })
    .toBuffer();
}

/** The first pixel of an image, as RGB. */
export async function firstPixel(image: Uint8Array): Promise<RgbColour> {
  const { data } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return [data[0]!, data[1]!, data[2]!];
}

/** Bytes that are clearly not an image: a small HTML page. */
export function htmlBytes(): Buffer {
  return Buffer.from('<!doctype html><html><head><title>Not found</title></head><body>nothing here</body></html>');
}

/**
 * A `thumbnail` job with sensible defaults: a table-style job for row 42 with the
 * default op. URLs use the reserved `.test` domain: nothing ever resolves them.
 */
export function jobOf(overrides: Partial<ThumbnailJob> = {}): ThumbnailJob {
  const id = overrides.id ?? '42';
  return { id, url: `https://images.test/seed/${id}/1024/768`, ops: ['thumbnail'], ...overrides };
}
