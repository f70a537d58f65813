/**
 * Throughput and peak memory of the `thumbnail` op against a naive sharp
 * pipeline measured in the same run: `npm run bench:thumbnail`.
 *
 * The inputs are N deterministic 1024x768 photo-like JPEGs from the sample
 * source, written once to a temporary directory. Throughput: at each
 * concurrency, every variant runs a warm-up and then rounds over all inputs,
 * the variants taking turns round by round so that a slow spell on a shared
 * machine hits all of them alike; the ratio is the median of per-round ratios
 * to the baseline. Peak RSS: each (variant, concurrency) pair makes one pass in
 * its own child process, so its peak is its own and not the high-water mark of
 * whatever ran before it.
 *
 * Variants:
 * - `naive`: `sharp(input).resize(400, 400, { fit: 'inside' }).jpeg()`, the
 *   baseline every ratio is against (sharp still shrinks on load for JPEG);
 * - `full-decode`: decode every pixel to raw first, then resize and encode:
 *   what a pipeline without shrink-on-load pays;
 * - `ours`: `makeThumbnail` from functions/thumbnail.ts, as the worker runs it;
 * - `ours-mozjpeg`: the same pipeline with sharp's mozjpeg encoder, which we
 *   tried and declined: about 30% smaller files at about twice the encode time.
 *
 * Prints a table; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { makeThumbnail, type ThumbnailOptions } from '#functions/thumbnail.ts';
import { renderSampleImage } from '#adapters/samples/sample-image.ts';

const IMAGES = 32;
const WIDTH = 1024;
const HEIGHT = 768;
const WARM_UP_IMAGES = 4;
const ROUNDS = 5;
const CONCURRENCIES = [1, 8] as const;
const OPTIONS: ThumbnailOptions = { size: 400, maxInputPixels: 100_000_000 };

type Transform = (input: Buffer) => Promise<unknown>;

const VARIANTS: Record<string, Transform> = {
  naive: (input) => sharp(input).resize(OPTIONS.size, OPTIONS.size, { fit: 'inside' }).jpeg().toBuffer(),
  'full-decode': async (input) => {
    const { data, info } = await sharp(input).raw().toBuffer({ resolveWithObject: true });
    return sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
      .resize(OPTIONS.size, OPTIONS.size, { fit: 'inside' })
      .jpeg()
      .toBuffer();
  },
  ours: (input) => makeThumbnail(input, OPTIONS),
  'ours-mozjpeg': async (input) => {
    await sharp(input).metadata();
    return oursMozjpegPipeline(input).toBuffer();
  },
};

const BASELINE = 'naive';

/** The pipeline of functions/thumbnail.ts after its header read, with mozjpeg as the encoder. */
function oursMozjpegPipeline(input: Buffer) {
  return sharp(input, { limitInputPixels: OPTIONS.maxInputPixels, failOn: 'error' })
    .autoOrient()
    .resize(OPTIONS.size, OPTIONS.size, { fit: 'inside', withoutEnlargement: true })
    .toColourspace('srgb')
    .jpeg({ quality: 82, mozjpeg: true });
}

interface Throughput {
  readonly variant: string;
  readonly concurrency: number;
  /** Median over the rounds. */
  readonly imagesPerSecond: number;
  /** Median over the rounds of this variant's rate divided by the baseline's rate in the same round. */
  readonly ratio: number;
  readonly outputKb: number;
}

interface Memory {
  readonly variant: string;
  readonly concurrency: number;
  readonly peakRssMb: number;
  readonly startRssMb: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function runPool(inputs: readonly Buffer[], concurrency: number, transform: Transform): Promise<number> {
  let next = 0;
  let outputBytes = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const output = await transform(inputs[next++]!);
      if (Buffer.isBuffer(output)) outputBytes += output.length;
      else if (output && typeof output === 'object' && 'data' in output && Buffer.isBuffer(output.data)) outputBytes += output.data.length;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outputBytes;
}

async function readInputs(dir: string): Promise<Buffer[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.jpg')).sort();
  return Promise.all(files.map((name) => readFile(join(dir, name))));
}

/**
 * Every variant at one concurrency, in one process, round by round in turn
 * (A B C…, A B C…), so a slow spell on a shared machine hits all of them alike.
 */
async function measureThroughput(inputs: readonly Buffer[], concurrency: number): Promise<Throughput[]> {
  const names = Object.keys(VARIANTS);
  const rates = new Map<string, number[]>(names.map((name) => [name, []]));
  const outputs = new Map<string, number>();
  for (const name of names) await runPool(inputs.slice(0, WARM_UP_IMAGES), Math.min(concurrency, WARM_UP_IMAGES), VARIANTS[name]!);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const name of names) {
      const started = performance.now();
      outputs.set(name, await runPool(inputs, concurrency, VARIANTS[name]!));
      rates.get(name)!.push(inputs.length / ((performance.now() - started) / 1000));
    }
  }
  const baseline = rates.get(BASELINE)!;
  return names.map((name) => ({
    variant: name,
    concurrency,
    imagesPerSecond: median(rates.get(name)!),
    ratio: median(rates.get(name)!.map((rate, round) => rate / baseline[round]!)),
    outputKb: outputs.get(name)! / inputs.length / 1024,
  }));
}

/** Peak RSS of one variant at one concurrency: one pass over the inputs, alone in a child process. */
async function measureMemory(variant: string, concurrency: number, dir: string): Promise<Memory> {
  const transform = VARIANTS[variant];
  if (!transform) throw new Error(`unknown variant ${variant}`);
  const inputs = await readInputs(dir);
  const startRssMb = process.memoryUsage.rss() / 2 ** 20;
  await runPool(inputs, concurrency, transform);
  return { variant, concurrency, peakRssMb: await peakRssMb(), startRssMb };
}

/**
 * This process's own peak RSS. Linux keeps `getrusage`'s maxrss across fork
 * and exec, so a child would report its parent's peak; VmHWM belongs to the
 * address space and starts afresh at exec.
 */
async function peakRssMb(): Promise<number> {
  try {
    const status = await readFile('/proc/self/status', 'utf8');
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}

function runChild(variant: string, concurrency: number, dir: string): Promise<Memory> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', variant, String(concurrency), dir],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${variant} at concurrency ${concurrency} exited with ${code}`));
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as Memory);
    });
  });
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '))
    .join('\n');
}

async function main(): Promise<void> {
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'imgpipe-bench-'));
  try {
    let inputBytes = 0;
    for (let seed = 1; seed <= IMAGES; seed += 1) {
      const jpeg = await renderSampleImage(`bench-${seed}`, WIDTH, HEIGHT);
      inputBytes += jpeg.length;
      await writeFile(join(dir, `${String(seed).padStart(3, '0')}.jpg`), jpeg);
    }
    const inputs = await readInputs(dir);

    const throughput: Throughput[] = [];
    const memory: Memory[] = [];
    for (const concurrency of CONCURRENCIES) {
      throughput.push(...(await measureThroughput(inputs, concurrency)));
      for (const variant of Object.keys(VARIANTS)) memory.push(await runChild(variant, concurrency, dir));
    }

    console.log(
      `thumbnail op: ${IMAGES} JPEGs of ${WIDTH}x${HEIGHT} (avg ${(inputBytes / IMAGES / 1024).toFixed(0)} KB) -> fit inside ${OPTIONS.size}`,
    );
    console.log(
      `throughput: median of ${ROUNDS} interleaved rounds after a warm-up; peak RSS: one pass per variant in its own process`,
    );
    console.log(
      `node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ${availableParallelism()} CPUs, ` +
        `libvips threads per image ${sharp.concurrency()}, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
    );
    console.log('');
    const rows: string[][] = [['conc', 'variant', 'images/s', `÷ ${BASELINE}`, 'peak RSS MB', `÷ ${BASELINE}`, 'RSS before MB', 'out KB']];
    for (const result of throughput) {
      const rss = memory.find((m) => m.variant === result.variant && m.concurrency === result.concurrency)!;
      const baselineRss = memory.find((m) => m.variant === BASELINE && m.concurrency === result.concurrency)!;
      rows.push([
        String(result.concurrency),
        result.variant === BASELINE ? `${result.variant} (baseline)` : result.variant,
        result.imagesPerSecond.toFixed(1),
        result.ratio.toFixed(2),
        rss.peakRssMb.toFixed(0),
        (rss.peakRssMb / baselineRss.peakRssMb).toFixed(2),
        rss.startRssMb.toFixed(0),
        result.outputKb.toFixed(1),
      ]);
    }
    console.log(table(rows));
    console.log('');
    const ours = throughput.filter((r) => r.variant === 'ours');
    console.log(
      `throughput ratio ours/${BASELINE}: ${ours.map((r) => `concurrency ${r.concurrency}: ${r.ratio.toFixed(2)}`).join(', ')} (above 1: ours is faster)`,
    );
    console.log(`finished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// The libvips operation cache would serve later rounds from earlier ones;
// a worker never sees the same input twice.
sharp.cache(false);
const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const [variant, concurrency, dir] = process.argv.slice(childAt + 1);
  const result = await measureMemory(variant!, Number(concurrency), dir!);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await main();
}
