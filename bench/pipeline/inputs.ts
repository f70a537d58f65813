import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { renderSampleImage } from '#adapters/samples/sample-image.ts';

/** Distinct photo-like 1024x768 JPEGs; jobs cycle through them. */
export const PHOTO_COUNT = 300;
/** Distinct 24 MP JPEGs; the large-input jobs cycle through them. */
export const LARGE_COUNT = 8;

export interface Inputs {
  readonly dir: string;
  readonly photos: readonly Buffer[];
  readonly large: readonly Buffer[];
}

/**
 * The benchmark's inputs, made once and kept in a temp directory across runs:
 * the sample source's scenes re-encoded at quality 98 (about 150 KB, like a
 * camera's 1024x768 export), and 6000x4000 enlargements of them (about 2 MB).
 */
export async function loadInputs(log: (line: string) => void): Promise<Inputs> {
  const dir = join(tmpdir(), 'imgpipe-bench-inputs-v1');
  await mkdir(dir, { recursive: true });
  const made = { count: 0 };
  const photos = await Promise.all(
    Array.from({ length: PHOTO_COUNT }, (_, index) =>
      cached(join(dir, `photo-${index}.jpg`), made, async () =>
        sharp(await renderSampleImage(`bench-${index}`, 1024, 768)).jpeg({ quality: 98 }).toBuffer(),
      ),
    ),
  );
  const large = [];
  for (let index = 0; index < LARGE_COUNT; index += 1) {
    large.push(
      await cached(join(dir, `large-${index}.jpg`), made, async () =>
        sharp(await renderSampleImage(`bench-large-${index}`, 2048, 1536)).resize(6000, 4000, { fit: 'fill' }).jpeg({ quality: 88 }).toBuffer(),
      ),
    );
  }
  if (made.count > 0) log(`made ${made.count} input images in ${dir}`);
  return { dir, photos, large };
}

async function cached(path: string, made: { count: number }, make: () => Promise<Buffer>): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    const bytes = await make();
    await writeFile(`${path}.part`, bytes);
    await rename(`${path}.part`, path);
    made.count += 1;
    return bytes;
  }
}
