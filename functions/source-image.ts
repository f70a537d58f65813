import sharp, { type Metadata } from 'sharp';
import { PermanentError } from './errors.ts';

export interface SourceHeader {
  /** As stored (of one frame). */
  readonly width: number;
  readonly height: number;
  /** As displayed: EXIF orientation 5..8 swaps the stored sides. */
  readonly displayedWidth: number;
  readonly displayedHeight: number;
  /** Frames of an animated image (1 for a still one). */
  readonly pages: number;
}

/**
 * Reads the header of downloaded bytes without decoding pixels: a non-image is
 * refused with `NOT_AN_IMAGE`, and an image whose pixels over all its frames
 * exceed `maxInputPixels` with `TOO_MANY_PIXELS`, before anything is decoded.
 */
export async function readSourceHeader(input: Uint8Array, maxInputPixels: number): Promise<SourceHeader> {
  let metadata: Metadata;
  try {
    // sharp's own pixel limit would refuse a bomb here as undecodable: ours names it.
    metadata = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new PermanentError('NOT_AN_IMAGE', 'the downloaded file is not a decodable image', { cause });
  }
  const { width, height } = metadata;
  if (!width || !height) throw new PermanentError('NOT_AN_IMAGE', 'the image has no dimensions');
  const pages = Math.max(1, metadata.pages ?? 1);
  if (width * height * pages > maxInputPixels) {
    const frames = pages > 1 ? ` in ${pages} frames` : '';
    throw new PermanentError(
      'TOO_MANY_PIXELS',
      `the image is ${width}x${height}${frames}, over the limit of ${maxInputPixels} pixels`,
    );
  }
  const swapped = (metadata.orientation ?? 1) >= 5;
  return { width, height, displayedWidth: swapped ? height : width, displayedHeight: swapped ? width : height, pages };
}

/** A sharp failure while decoding or encoding, as the job's permanent failure. */
export function undecodable(cause: unknown): PermanentError {
  return new PermanentError('NOT_AN_IMAGE', 'the image could not be decoded', { cause });
}
