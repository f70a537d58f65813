import sharp from 'sharp';
import { readSourceHeader, undecodable } from './source-image.ts';

export interface ThumbnailOptions {
  /** Longest side of the output, in pixels (`THUMBNAIL_SIZE`). */
  readonly size: number;
  /** Inputs with more pixels than this are refused before decoding (`MAX_INPUT_PIXELS`). */
  readonly maxInputPixels: number;
}

export interface Thumbnail {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly contentType: 'image/jpeg';
}

/**
 * The `thumbnail` op: fit inside `size` x `size`, never enlarged, EXIF
 * orientation applied, sRGB JPEG out.
 *
 * @example
 * const { data, width, height } = await makeThumbnail(bytes, { size: 400, maxInputPixels: 1e8 });
 */
export async function makeThumbnail(input: Uint8Array, options: ThumbnailOptions): Promise<Thumbnail> {
  // Read the header first: a pixel bomb is refused without decoding, and a
  // non-image gets its own code rather than a libvips message.
  const { width, height } = await readSourceHeader(input, options.maxInputPixels);
  try {
    const { data, info } = await sharp(input, { limitInputPixels: options.maxInputPixels, failOn: 'error' })
      .autoOrient()
      .resize(options.size, options.size, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .jpeg({ quality: 82 })
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, inputWidth: width, inputHeight: height, contentType: 'image/jpeg' };
  } catch (cause) {
    throw undecodable(cause);
  }
}

