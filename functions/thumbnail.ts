import sharp, { type Metadata } from 'sharp';
import { PermanentError } from './errors.ts';

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
  let metadata: Metadata;
  try {
    // sharp's own pixel limit would refuse a bomb here as undecodable: ours names it.
    metadata = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new PermanentError('NOT_AN_IMAGE', 'the downloaded file is not a decodable image', { cause });
  }
  const { width, height } = metadata;
  if (!width || !height) throw new PermanentError('NOT_AN_IMAGE', 'the image has no dimensions');
  if (width * height > options.maxInputPixels) {
    throw new PermanentError(
      'TOO_MANY_PIXELS',
      `the image is ${width}x${height}, over the limit of ${options.maxInputPixels} pixels`,
    );
  }

  try {
    const { data, info } = await sharp(input, { limitInputPixels: options.maxInputPixels, failOn: 'error' })
      .autoOrient()
      .resize(options.size, options.size, { fit: 'inside', withoutEnlargement: true })
      .toColourspace('srgb')
      .jpeg({ quality: 82 })
      .toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, inputWidth: width, inputHeight: height, contentType: 'image/jpeg' };
  } catch (cause) {
    throw new PermanentError('NOT_AN_IMAGE', 'the image could not be decoded', { cause });
  }
}
