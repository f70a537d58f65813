import { createHash } from 'node:crypto';
import { InvalidInputError } from '#functions/errors.ts';
import { sampleDiskCache } from './sample-disk-cache.ts';

/** The longest side the sample source renders; larger requests are refused. */
export const SAMPLE_MAX_SIDE = 2048;
/** Seeds are path segments: short, URL-safe, no dots or slashes. */
export const SAMPLE_SEED_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const CACHE_MAX_ENTRIES = 64;
const CACHE_MAX_BYTES = 32 * 1024 * 1024;
const JPEG_QUALITY = 82;
/** Grain amplitude: noise is -GRAIN..GRAIN-1 (GRAIN a power of two). */
const GRAIN = 8;

// Promises, not buffers, so concurrent requests for one image render it once.
const cache = new Map<string, { image: Promise<Buffer>; bytes: number }>();
let cachedBytes = 0;
const diskCache = sampleDiskCache();

/**
 * A deterministic, photo-like JPEG for `seed`: the same arguments give the same
 * bytes every time, on every machine with the same sharp build. The scene
 * (a sky-to-ground gradient, a hilly horizon, a sun and a few soft blobs) is
 * laid out in relative coordinates, so one seed shows the same picture at any
 * size, like picsum's `/seed/<seed>/<w>/<h>`; a light seeded grain keeps it
 * from compressing like a flat drawing. Recent outputs are kept in a small LRU,
 * and every output on disk across processes (`sample-disk-cache.ts`).
 * Bad arguments reject with an `InvalidInputError` naming `seed`, `width` or `height`.
 *
 * @example
 * const jpeg = await renderSampleImage('42', 1024, 768); // ~85 KB, 1024x768
 */
export async function renderSampleImage(seed: string, width: number, height: number): Promise<Buffer> {
  if (!SAMPLE_SEED_PATTERN.test(seed)) {
    throw new InvalidInputError('seed', `must match ${SAMPLE_SEED_PATTERN.source}`);
  }
  assertSide('width', width);
  assertSide('height', height);

  const key = `${seed}/${width}/${height}`;
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return await hit.image;
  }
  const entry = { image: encode(seed, width, height), bytes: 0 };
  cache.set(key, entry);
  entry.image.then(
    (jpeg) => {
      if (cache.get(key) !== entry) return;
      entry.bytes = jpeg.length;
      cachedBytes += jpeg.length;
      evict();
    },
    () => {
      if (cache.get(key) === entry) cache.delete(key);
    },
  );
  evict();
  return await entry.image;
}

function assertSide(field: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > SAMPLE_MAX_SIDE) {
    throw new InvalidInputError(field, `must be an integer from 1 to ${SAMPLE_MAX_SIDE}`);
  }
}

function evict(): void {
  for (const [key, entry] of cache) {
    if (cache.size <= CACHE_MAX_ENTRIES && cachedBytes <= CACHE_MAX_BYTES) return;
    cache.delete(key);
    cachedBytes -= entry.bytes;
  }
}

async function encode(seed: string, width: number, height: number): Promise<Buffer> {
  const name = `${seed}-${width}x${height}.jpg`;
  const stored = await diskCache.read(name);
  if (stored) return stored;
  const pixels = paint(seed, width, height);
  // Loaded on first use: the api and Lambda entries import this module for the
  // sample route, and loading sharp's native library would add to every cold start.
  const { default: sharp } = await import('sharp');
  const jpeg = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: JPEG_QUALITY })
    .toBuffer();
  await diskCache.write(name, jpeg);
  return jpeg;
}

/** sfc32 over four 32-bit words: small, fast, and the same sequence everywhere. */
function prng(material: string): () => number {
  const digest = createHash('sha256').update(material).digest();
  let a = digest.readUInt32LE(0);
  let b = digest.readUInt32LE(4);
  let c = digest.readUInt32LE(8);
  let d = digest.readUInt32LE(12);
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i += 1) next();
  return next;
}

type Rgb = [number, number, number];

function paint(seed: string, width: number, height: number): Buffer {
  // The scene comes from the seed alone; only the grain depends on the size.
  const random = prng(`scene:${seed}`);
  const unit = () => random() / 4294967296;
  const between = (low: number, high: number) => low + (high - low) * unit();
  const colour = (hue: number, saturation: number, lightness: number): Rgb =>
    hsl(hue, saturation, lightness).map((c) => Math.min(255 - GRAIN, Math.max(GRAIN, c))) as Rgb;

  const hue = unit() * 360;
  const skyTop = colour(hue, between(0.35, 0.7), between(0.25, 0.45));
  const skyBottom = colour(hue + between(-40, 40), between(0.3, 0.6), between(0.6, 0.85));
  const groundTop = colour(hue + between(90, 180), between(0.3, 0.6), between(0.35, 0.55));
  const groundBottom = colour(hue + between(90, 180), between(0.25, 0.5), between(0.1, 0.25));
  const horizon = between(0.45, 0.7);
  const waves = [0, 1, 2].map(() => ({ amplitude: between(0.01, 0.06), frequency: between(1, 9), phase: between(0, Math.PI * 2) }));

  const out = new Uint8Array(width * height * 3);
  const ridge = new Float32Array(width);
  for (let x = 0; x < width; x += 1) {
    const u = x / width;
    let y = horizon;
    for (const wave of waves) y += wave.amplitude * Math.sin(wave.phase + wave.frequency * Math.PI * 2 * u);
    ridge[x] = y * height;
  }

  // Sky gradient above the ridge, ground gradient below it, plus a light grain:
  // one random byte per pixel, the same on all three channels (luma noise),
  // from an inlined xorshift32. Colours stay within GRAIN..255-GRAIN, so
  // nothing here needs clamping.
  let state = prng(`grain:${seed}:${width}x${height}`)() | 1;
  let word = 0;
  let offset = 0;
  for (let y = 0; y < height; y += 1) {
    const v = height === 1 ? 0 : y / (height - 1);
    const sky = mix(skyTop, skyBottom, v);
    const ground = mix(groundTop, groundBottom, v);
    const skyR = Math.round(sky[0]), skyG = Math.round(sky[1]), skyB = Math.round(sky[2]);
    const groundR = Math.round(ground[0]), groundG = Math.round(ground[1]), groundB = Math.round(ground[2]);
    for (let x = 0; x < width; x += 1, offset += 3) {
      if ((x & 3) === 0) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        word = state;
      }
      const noise = ((word >>> ((x & 3) << 3)) & (GRAIN * 2 - 1)) - GRAIN;
      if (y >= ridge[x]!) {
        out[offset] = groundR + noise;
        out[offset + 1] = groundG + noise;
        out[offset + 2] = groundB + noise;
      } else {
        out[offset] = skyR + noise;
        out[offset + 1] = skyG + noise;
        out[offset + 2] = skyB + noise;
      }
    }
  }

  // A sun and a few soft blobs (clouds, trees, rocks), each blended over its own
  // box; the blend is convex, so values stay within 0..255.
  const scale = Math.min(width, height);
  const blobs = 4 + (random() % 5);
  for (let i = 0; i <= blobs; i += 1) {
    const isSun = i === 0;
    const cx = between(0.05, 0.95) * width;
    const cy = (isSun ? between(0.08, 0.35) : between(0.1, 0.95)) * height;
    const rx = (isSun ? between(0.06, 0.12) : between(0.05, 0.3)) * scale;
    const ry = isSun ? rx : rx * between(0.35, 1.4);
    const fill = isSun ? colour(between(30, 60), 0.9, 0.75) : colour(hue + between(0, 360), between(0.2, 0.8), between(0.2, 0.85));
    blend(out, width, height, cx, cy, Math.max(rx, 0.5), Math.max(ry, 0.5), fill, isSun ? 0.95 : between(0.45, 0.9));
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function blend(
  out: Uint8Array,
  width: number,
  height: number,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  fill: Rgb,
  opacity: number,
): void {
  const x0 = Math.max(0, Math.floor(cx - rx));
  const x1 = Math.min(width - 1, Math.ceil(cx + rx));
  const y0 = Math.max(0, Math.floor(cy - ry));
  const y1 = Math.min(height - 1, Math.ceil(cy + ry));
  const [r, g, b] = fill;
  for (let y = y0; y <= y1; y += 1) {
    const dy = (y - cy) / ry;
    const dy2 = dy * dy;
    if (dy2 >= 1) continue;
    let offset = (y * width + x0) * 3;
    for (let x = x0; x <= x1; x += 1, offset += 3) {
      const dx = (x - cx) / rx;
      const d2 = dx * dx + dy2;
      if (d2 >= 1) continue;
      const falloff = 1 - d2;
      const weight = opacity * falloff * falloff * (3 - 2 * falloff);
      const red = out[offset]!;
      const green = out[offset + 1]!;
      const blue = out[offset + 2]!;
      out[offset] = red + (r - red) * weight;
      out[offset + 1] = green + (g - green) * weight;
      out[offset + 2] = blue + (b - blue) * weight;
    }
  }
}

function mix(from: Rgb, to: Rgb, t: number): Rgb {
  return [from[0] + (to[0] - from[0]) * t, from[1] + (to[1] - from[1]) * t, from[2] + (to[2] - from[2]) * t];
}

function hsl(hue: number, saturation: number, lightness: number): Rgb {
  const h = (((hue % 360) + 360) % 360) / 360;
  const q = lightness < 0.5 ? lightness * (1 + saturation) : lightness + saturation - lightness * saturation;
  const p = 2 * lightness - q;
  const channel = (t: number) => {
    const k = t < 0 ? t + 1 : t > 1 ? t - 1 : t;
    if (k < 1 / 6) return p + (q - p) * 6 * k;
    if (k < 1 / 2) return q;
    if (k < 2 / 3) return p + (q - p) * (2 / 3 - k) * 6;
    return p;
  };
  return [channel(h + 1 / 3) * 255, channel(h) * 255, channel(h - 1 / 3) * 255];
}
