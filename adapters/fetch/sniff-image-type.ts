/** ISO-BMFF brands (the `ftyp` box) of image formats, most specific first. */
const FTYP_BRANDS: ReadonlyArray<readonly [string, string]> = [
  ['avif', 'image/avif'],
  ['avis', 'image/avif'],
  ['heic', 'image/heic'],
  ['heix', 'image/heic'],
  ['heim', 'image/heic'],
  ['heis', 'image/heic'],
  ['hevc', 'image/heic'],
  ['hevx', 'image/heic'],
  ['mif1', 'image/heif'],
  ['msf1', 'image/heif'],
];

/**
 * The image MIME type the first bytes announce (JPEG, PNG, GIF, WebP,
 * AVIF/HEIF, TIFF), or undefined when they are no image we know. A server's
 * `Content-Type` is never trusted; these magic numbers are.
 *
 * @example
 * sniffImageType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])); // → 'image/jpeg'
 */
export function sniffImageType(bytes: Uint8Array): string | undefined {
  const startsWith = (offset: number, ...expected: number[]) =>
    bytes.length >= offset + expected.length && expected.every((byte, index) => bytes[offset + index] === byte);
  const ascii = (offset: number, text: string) => startsWith(offset, ...[...text].map((char) => char.charCodeAt(0)));

  if (startsWith(0, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (startsWith(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'image/png';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'image/gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  if (startsWith(0, 0x49, 0x49, 0x2a, 0x00) || startsWith(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'image/tiff';
  if (ascii(4, 'ftyp')) return ftypImageType(bytes);
  return undefined;
}

/** The major brand and the compatible brands of the `ftyp` box, matched against {@link FTYP_BRANDS}. */
function ftypImageType(bytes: Uint8Array): string | undefined {
  const boxSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  const end = Math.min(boxSize, bytes.length);
  const brands = new Set<string>();
  for (let offset = 8; offset + 4 <= end; offset += offset === 8 ? 8 : 4) {
    // Bytes 12..16 hold the minor version, not a brand.
    brands.add(String.fromCharCode(...bytes.subarray(offset, offset + 4)));
  }
  return FTYP_BRANDS.find(([brand]) => brands.has(brand))?.[1];
}
