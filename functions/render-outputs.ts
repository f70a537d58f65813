import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { CONTENT_TYPES, type OutputSpec } from './output-spec.ts';
import { readSourceHeader, undecodable, type SourceHeader } from './source-image.ts';
import { tracedStep } from './traced-step.ts';

/** AVIF encoder effort (0..9): chosen by `npm run bench` (bench/outputs.bench.ts), see the README. */
export const AVIF_EFFORT = 3;

/** How outputs share the one decode; `clone` was measured against `separate` in bench/outputs.bench.ts. */
export type DecodeSharing = 'clone' | 'separate';

export interface RenderOptions {
  /** Inputs with more pixels than this, over all their frames, are refused before decoding (`MAX_INPUT_PIXELS`). */
  readonly maxInputPixels: number;
  readonly sharing?: DecodeSharing;
  /**
   * The largest decode kept in memory for all outputs to share (default
   * {@link SHARED_DECODE_MAX_PIXELS}); above it every output streams from the
   * input on its own, so a worker's memory stays bounded whatever the sizes.
   */
  readonly sharedDecodeMaxPixels?: number;
}

/** 16 megapixels: at most 64 MB of shared pixels per job. */
export const SHARED_DECODE_MAX_PIXELS = 16_000_000;

export interface RenderedOutput {
  readonly spec: OutputSpec;
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly contentType: string;
}

export interface RenderedSet {
  readonly inputWidth: number;
  readonly inputHeight: number;
  readonly outputs: readonly RenderedOutput[];
}

const DEFAULT_SHARING: DecodeSharing = 'separate';

/**
 * Makes every output of a job from one decode of `input`: the header is read
 * (pixel limit over all frames, `TOO_MANY_PIXELS`), the first frame decoded
 * once, EXIF orientation applied and colour converted to sRGB through its ICC
 * profile, shrunk on load to the largest size any output needs; then each
 * output is resized and encoded from those pixels, in a `render` span of its
 * own. Two kinds of output read the input again, because the shared pixels
 * cannot serve them: `strip: false` (metadata does not survive a raw decode)
 * and `animated: true` of an animated input (it needs every frame); so do all
 * of them when the shared decode would exceed `sharedDecodeMaxPixels`.
 *
 * @example
 * const { outputs } = await renderOutputs(bytes, job.outputs, { maxInputPixels: 1e8 });
 */
export async function renderOutputs(input: Uint8Array, specs: readonly OutputSpec[], options: RenderOptions): Promise<RenderedSet> {
  const header = await readSourceHeader(input, options.maxInputPixels);
  const readsInputAgain = (spec: OutputSpec) => !spec.strip || (spec.animated && header.pages > 1);
  const shared = specs.filter((spec) => !readsInputAgain(spec));
  const decoded = shared.length > 0 ? await decodeOnce(input, header, shared, options) : undefined;

  const outputs = await Promise.all(
    specs.map((spec) =>
      tracedStep('render', { 'imgpipe.output.name': spec.name, 'imgpipe.output.format': spec.format }, async (span) => {
        const source = readsInputAgain(spec) || !decoded ? pipelineFromInput(input, spec, options) : decoded();
        const rendered = await encode(resize(source, spec), spec);
        span.setAttributes({
          'imgpipe.output.width': rendered.width,
          'imgpipe.output.height': rendered.height,
          'imgpipe.output.bytes': rendered.data.byteLength,
        });
        return rendered;
      }),
    ),
  );
  return { inputWidth: header.displayedWidth, inputHeight: header.displayedHeight, outputs };
}

/**
 * Decodes the first frame once, at the smallest scale every output in `specs`
 * can be made from; answers a pipeline factory over the pixels, or undefined
 * when they would be too many to hold.
 */
async function decodeOnce(
  input: Uint8Array,
  header: SourceHeader,
  specs: readonly OutputSpec[],
  options: RenderOptions,
): Promise<(() => Sharp) | undefined> {
  const { displayedWidth: width, displayedHeight: height } = header;
  const scale = Math.min(1, Math.max(...specs.map((spec) => scaleFor(spec, width, height))));
  if (width * height * scale * scale > (options.sharedDecodeMaxPixels ?? SHARED_DECODE_MAX_PIXELS)) return undefined;
  let pipeline = sharp(input, { limitInputPixels: options.maxInputPixels, failOn: 'error' }).autoOrient();
  if (scale < 1) {
    pipeline = pipeline.resize(Math.max(1, Math.ceil(width * scale)), Math.max(1, Math.ceil(height * scale)), { fit: 'fill' });
  }
  let pixels: { data: Buffer; info: OutputInfo };
  try {
    pixels = await pipeline.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw undecodable(cause);
  }
  const raw = { width: pixels.info.width, height: pixels.info.height, channels: pixels.info.channels };
  if ((options.sharing ?? DEFAULT_SHARING) === 'clone') {
    const base = sharp(pixels.data, { raw });
    return () => base.clone();
  }
  return () => sharp(pixels.data, { raw });
}

/** The scale of the input one output is made at (above 1: enlarged). */
function scaleFor(spec: OutputSpec, width: number, height: number): number {
  const byWidth = spec.width === undefined ? undefined : spec.width / width;
  const byHeight = spec.height === undefined ? undefined : spec.height / height;
  if (byWidth === undefined) return byHeight!;
  if (byHeight === undefined) return byWidth;
  return spec.fit === 'cover' ? Math.max(byWidth, byHeight) : Math.min(byWidth, byHeight);
}

function pipelineFromInput(input: Uint8Array, spec: OutputSpec, options: RenderOptions): Sharp {
  const pipeline = sharp(input, { limitInputPixels: options.maxInputPixels, failOn: 'error', animated: spec.animated })
    .autoOrient()
    .toColourspace('srgb');
  // Keeps EXIF (orientation reset, as it is applied), XMP and IPTC, and tags the sRGB profile.
  return spec.strip ? pipeline : pipeline.withMetadata();
}

function resize(pipeline: Sharp, spec: OutputSpec): Sharp {
  return pipeline.resize(spec.width, spec.height, {
    fit: spec.fit,
    withoutEnlargement: spec.withoutEnlargement,
    ...(spec.position !== undefined && { position: spec.position }),
    ...(spec.background !== undefined && { background: spec.background }),
  });
}

async function encode(pipeline: Sharp, spec: OutputSpec): Promise<RenderedOutput> {
  const { quality } = spec;
  let encoder: Sharp;
  switch (spec.format) {
    case 'jpeg':
      // JPEG has no alpha: transparent pixels become the background (white unless the output gives one).
      encoder = pipeline.flatten({ background: spec.background ?? '#ffffff' }).jpeg({ quality });
      break;
    case 'webp':
      encoder = pipeline.webp({ quality });
      break;
    case 'avif':
      encoder = pipeline.avif({ quality, effort: AVIF_EFFORT });
      break;
    case 'png':
      encoder = pipeline.png(quality === undefined ? {} : { palette: true, quality });
      break;
  }
  try {
    const { data, info } = await encoder.toBuffer({ resolveWithObject: true });
    return { spec, data, width: info.width, height: info.pageHeight ?? info.height, contentType: CONTENT_TYPES[spec.format] };
  } catch (cause) {
    throw undecodable(cause);
  }
}
