/**
 * One named output of a job, as a job carries it once validated and completed
 * with defaults (see `job-schema.ts` for the rules and `job.ts` for parsing).
 *
 * @example
 * { name: 'w640', width: 640, fit: 'inside', format: 'webp', quality: 80, strip: true, withoutEnlargement: true, animated: false }
 */
export interface OutputSpec {
  /** Same rules as a job id; unique within the job; the file is `<id>/<name>.<ext>`. */
  readonly name: string;
  /** At least one of `width` and `height`; each 1..{@link MAX_OUTPUT_SIDE}. */
  readonly width?: number;
  readonly height?: number;
  readonly fit: OutputFit;
  /** Only with `fit: 'cover'`: which part of the image to keep (default `centre`). */
  readonly position?: OutputPosition;
  /** Only with `fit: 'contain'`: the colour of the bars, `#rgb`, `#rrggbb` or `#rrggbbaa` (default `#ffffff`). */
  readonly background?: string;
  readonly format: OutputFormat;
  /** Encoder quality within {@link QUALITY}'s range for the format; PNG has none unless asked (then palette-quantised). */
  readonly quality?: number;
  /** Drop EXIF, XMP and IPTC metadata (default true). */
  readonly strip: boolean;
  /** Never make an output larger than the input (default true). */
  readonly withoutEnlargement: boolean;
  /** WebP only: keep every frame of an animated input (default false: the first frame). */
  readonly animated: boolean;
}

export const OUTPUT_FORMATS = ['jpeg', 'webp', 'avif', 'png'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const OUTPUT_FITS = ['inside', 'cover', 'contain'] as const;
export type OutputFit = (typeof OUTPUT_FITS)[number];

/** sharp's gravities and its two smart-crop strategies (`entropy`, `attention`). */
export const OUTPUT_POSITIONS = [
  'centre',
  'north',
  'northeast',
  'east',
  'southeast',
  'south',
  'southwest',
  'west',
  'northwest',
  'entropy',
  'attention',
] as const;
export type OutputPosition = (typeof OUTPUT_POSITIONS)[number];
/** Positions sharp finds by looking at the picture; not for animated outputs. */
export const SMART_CROPS: readonly OutputPosition[] = ['entropy', 'attention'];

export const MAX_OUTPUTS = 8;
export const MAX_OUTPUT_SIDE = 8192;
export const BACKGROUND_PATTERN = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;
export const DEFAULT_BACKGROUND = '#ffffff';
export const DEFAULT_POSITION: OutputPosition = 'centre';

/** The quality range each encoder accepts, and the default when a job gives none (PNG: lossless). */
export const QUALITY: Readonly<Record<OutputFormat, { readonly min: number; readonly max: number; readonly default?: number }>> = {
  jpeg: { min: 1, max: 100, default: 82 },
  webp: { min: 1, max: 100, default: 80 },
  avif: { min: 1, max: 100, default: 50 },
  png: { min: 1, max: 100 },
};

export const EXTENSIONS: Readonly<Record<OutputFormat, string>> = { jpeg: 'jpg', webp: 'webp', avif: 'avif', png: 'png' };

export const CONTENT_TYPES: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  avif: 'image/avif',
  png: 'image/png',
};
