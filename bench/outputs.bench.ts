/**
 * Multi-output jobs against raw sharp making the same set, measured in the
 * same run: `npm run bench:outputs` (also part of `npm run bench`).
 *
 * The set is what a site publishes for a `srcset`: 320, 640 and 1280 wide
 * WebP plus a 400 px JPEG. The inputs are N deterministic photo-like JPEGs
 * from the sample source. Three measurements, each as rounds in which the
 * variants take turns (so a slow spell on a shared machine hits all of them
 * alike); every figure is a median over rounds, every ratio the median of
 * per-round ratios to the baseline:
 *
 * 1. the transform alone, from bytes in memory: `raw sharp` (one pipeline per
 *    output straight from the input, each decoding it, shrink-on-load helping)
 *    against `renderOutputs` decoding once and sharing the pixels by `clone()`
 *    or by one sharp object each (`separate`);
 * 2. the whole job: `processImage` with the real downloader from a local HTTP
 *    source and the real directory store (fsync, create-if-absent, manifest),
 *    against raw sharp writing the same set from bytes already in memory;
 * 3. AVIF on its own: one 1280-wide output at each encoder effort (encode
 *    only, from resized pixels): time, size and PSNR, to choose `AVIF_EFFORT`.
 *
 * Prints tables; asserts nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { loadConfig } from '#adapters/config.ts';
import { HttpImageFetcher } from '#adapters/fetch/http-image-fetcher.ts';
import { renderSampleImage } from '#adapters/samples/sample-image.ts';
import { FsStore } from '#adapters/storage/fs-store.ts';
import { parseJob, type OutputsJob } from '#functions/job.ts';
import type { Logger } from '#functions/ports.ts';
import { processImage, type ProcessImageDeps } from '#functions/process-image.ts';
import { AVIF_EFFORT, renderOutputs, type DecodeSharing } from '#functions/render-outputs.ts';
import { listenOnLoopback } from '#test/support/listen-on-loopback.ts';

const IMAGES = 10;
const WIDTH = 2048;
const HEIGHT = 1536;
const ROUNDS = 7;
const CONCURRENCIES = [1, 4] as const;
const MAX_INPUT_PIXELS = 100_000_000;
const AVIF_EFFORTS = [0, 1, 2, 3, 4, 5, 6] as const;

const SET = [
  { name: 'w320', width: 320, format: 'webp' },
  { name: 'w640', width: 640, format: 'webp' },
  { name: 'w1280', width: 1280, format: 'webp' },
  { name: 'sq', width: 400, height: 400, format: 'jpeg' },
] as const;
const SPECS = (parseJob({ id: 'spec', url: 'http://127.0.0.1/x.jpg', outputs: SET }) as OutputsJob).outputs;

type Task = (input: Buffer, index: number, round: number) => Promise<unknown>;

/** The set as a plain sharp script makes it: one pipeline per output, straight from the bytes. */
function rawSharpSet(input: Buffer): Promise<Buffer[]> {
  return Promise.all(SPECS.map((spec) => rawSharpOutput(sharp(input).autoOrient(), spec.width, spec.height, spec.format, spec.quality).toBuffer()));
}

function rawSharpOutput(pipeline: Sharp, width: number | undefined, height: number | undefined, format: string, quality?: number): Sharp {
  const resized = pipeline.resize(width, height, { fit: 'inside', withoutEnlargement: true });
  return format === 'webp' ? resized.webp({ quality }) : resized.jpeg({ quality });
}

function transformOnly(sharing: DecodeSharing): Task {
  return (input) => renderOutputs(input, SPECS, { maxInputPixels: MAX_INPUT_PIXELS, sharing });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function runPool(count: number, concurrency: number, run: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await run(next++);
    }),
  );
}

interface Row {
  readonly variant: string;
  readonly concurrency: number;
  readonly setsPerSecond: number;
  readonly ratio: number;
}

/** Every variant at every concurrency, in interleaved rounds after one warm-up pass each. */
async function measure(inputs: readonly Buffer[], variants: Record<string, Task>, baseline: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const concurrency of CONCURRENCIES) {
    const rates = new Map<string, number[]>(Object.keys(variants).map((name) => [name, []]));
    for (const task of Object.values(variants)) await runPool(2, 2, (index) => task(inputs[index]!, index, -1));
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, task] of Object.entries(variants)) {
        const started = performance.now();
        await runPool(inputs.length, concurrency, (index) => task(inputs[index]!, index, round));
        rates.get(name)!.push(inputs.length / ((performance.now() - started) / 1000));
      }
    }
    const base = rates.get(baseline)!;
    for (const [variant, values] of rates) {
      rows.push({ variant, concurrency, setsPerSecond: median(values), ratio: median(values.map((rate, round) => rate / base[round]!)) });
    }
  }
  return rows;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')).join('\n');
}

function printRows(title: string, rows: readonly Row[], baseline: string): void {
  console.log(`\n${title}`);
  console.log(
    table([
      ['conc', 'variant', 'sets/s', `÷ ${baseline}`],
      ...rows.map((row) => [String(row.concurrency), row.variant, row.setsPerSecond.toFixed(2), row.ratio.toFixed(2)]),
    ]),
  );
}

/** A local HTTP source serving `/<n>.jpg` from memory, and counting nothing: the downloader is what is measured. */
async function startSource(inputs: readonly Buffer[]) {
  const server = createServer((request, response) => {
    const index = Number(/^\/(\d+)\.jpg$/.exec(request.url ?? '')?.[1]);
    const body = inputs[index];
    if (body) response.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
    else response.writeHead(404).end();
  });
  const { port } = await listenOnLoopback(server);
  return { hostPort: `127.0.0.1:${port}`, url: (index: number) => `http://127.0.0.1:${port}/${index}.jpg`, close: () => server.close() };
}

const quietLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Peak signal-to-noise ratio of an encoded image against the pixels it was encoded from, in dB. */
async function psnr(encoded: Buffer, reference: Buffer): Promise<number> {
  const decoded = await sharp(encoded).removeAlpha().raw().toBuffer();
  let squared = 0;
  for (let index = 0; index < reference.length; index += 1) squared += (decoded[index]! - reference[index]!) ** 2;
  return 10 * Math.log10((255 * 255) / (squared / reference.length));
}

/** The WebP output the same pixels make at its default quality: what an AVIF must beat to be worth its time. */
async function timeWebpReference(pixels: Buffer, raw: { width: number; height: number; channels: 1 | 2 | 3 | 4 }) {
  const ms: number[] = [];
  let data = Buffer.alloc(0);
  for (let round = 0; round < 3; round += 1) {
    const started = performance.now();
    data = await sharp(pixels, { raw }).webp({ quality: 80 }).toBuffer();
    ms.push(performance.now() - started);
  }
  return { ms: median(ms), bytes: data.length, psnr: await psnr(data, pixels) };
}

async function measureAvif(input: Buffer): Promise<string[][]> {
  const rows: string[][] = [['avif effort', 'ms (1280 wide)', 'KB', 'PSNR dB', '÷ effort 4 time', '÷ effort 4 KB']];
  const resized = await sharp(input).resize(1280).raw().toBuffer({ resolveWithObject: true });
  const raw = { width: resized.info.width, height: resized.info.height, channels: resized.info.channels };
  const timings = new Map<number, { ms: number[]; bytes: number; psnr: number }>();
  for (let round = 0; round < 3; round += 1) {
    for (const effort of AVIF_EFFORTS) {
      const started = performance.now();
      const data = await sharp(resized.data, { raw }).avif({ quality: 50, effort }).toBuffer();
      const ms = performance.now() - started;
      const entry = timings.get(effort) ?? { ms: [], bytes: data.length, psnr: await psnr(data, resized.data) };
      entry.ms.push(ms);
      timings.set(effort, entry);
    }
  }
  const reference = timings.get(4)!;
  const webp = await timeWebpReference(resized.data, raw);
  rows.push(['webp q80', webp.ms.toFixed(0), (webp.bytes / 1024).toFixed(1), webp.psnr.toFixed(2), (webp.ms / median(reference.ms)).toFixed(2), (webp.bytes / reference.bytes).toFixed(2)]);
  for (const effort of AVIF_EFFORTS) {
    const { ms, bytes, psnr: db } = timings.get(effort)!;
    rows.push([
      String(effort),
      median(ms).toFixed(0),
      (bytes / 1024).toFixed(1),
      db.toFixed(2),
      (median(ms) / median(reference.ms)).toFixed(2),
      (bytes / reference.bytes).toFixed(2),
    ]);
  }
  return rows;
}

async function main(): Promise<void> {
  const started = performance.now();
  const inputs: Buffer[] = [];
  for (let seed = 1; seed <= IMAGES; seed += 1) inputs.push(await renderSampleImage(`outputs-${seed}`, WIDTH, HEIGHT));
  const avgKb = inputs.reduce((sum, input) => sum + input.length, 0) / inputs.length / 1024;
  console.log(`outputs: ${IMAGES} JPEGs of ${WIDTH}x${HEIGHT} (avg ${avgKb.toFixed(0)} KB) -> ${SET.map((o) => `${o.name} ${o.format}`).join(', ')}`);
  console.log(
    `median of ${ROUNDS} interleaved rounds; node ${process.version}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), ` +
      `${availableParallelism()} CPUs, UV_THREADPOOL_SIZE ${process.env.UV_THREADPOOL_SIZE ?? '4 (default)'}`,
  );

  const transform = await measure(inputs, { 'raw sharp': rawSharpSet, 'decode once, clone()': transformOnly('clone'), 'decode once, separate': transformOnly('separate') }, 'raw sharp');
  printRows('1. transform only (bytes in memory -> 4 encoded buffers)', transform, 'raw sharp');

  const source = await startSource(inputs);
  const dir = await mkdtemp(join(tmpdir(), 'imgpipe-bench-outputs-'));
  const rawDir = await mkdtemp(join(tmpdir(), 'imgpipe-bench-raw-'));
  const config = loadConfig({ URL_ALLOW_HOSTS: source.hostPort, PICSUM_URL: 'http://127.0.0.1:9' }, 'worker');
  const fetcher = new HttpImageFetcher(config.fetch);
  const store = await FsStore.open(dir, quietLog);
  const deps: ProcessImageDeps = {
    fetcher,
    store,
    images: { enqueuePending: async () => 0, markProcessed: async () => {}, markFailed: async () => {}, ping: async () => {} },
    clock: { now: () => Date.now() },
    thumbnail: { size: 400, maxInputPixels: MAX_INPUT_PIXELS },
  };
  const ctx = { signal: new AbortController().signal, log: quietLog, attempt: 1, isLastAttempt: false };
  let jobs = 0;
  try {
    const whole = await measure(
      inputs,
      {
        'raw sharp, files': (input, index, round) =>
          Promise.all(
            SPECS.map((spec) =>
              rawSharpOutput(sharp(input).autoOrient(), spec.width, spec.height, spec.format, spec.quality).toFile(
                join(rawDir, `${round}-${index}-${spec.name}.${spec.format}`),
              ),
            ),
          ),
        // A fresh id every time: a job id seen before would be skipped, not made.
        processImage: (_input, index) => processImage({ id: `job-${(jobs += 1)}`, url: source.url(index), outputs: SPECS }, deps, ctx),
      },
      'raw sharp, files',
    );
    printRows('2. whole job (processImage: HTTP download, decode once, fsync\'d create-if-absent writes, manifest)', whole, 'raw sharp, files');
  } finally {
    await fetcher.close();
    await store.close();
    source.close();
    await rm(dir, { recursive: true, force: true });
    await rm(rawDir, { recursive: true, force: true });
  }

  console.log(`\n3. AVIF encode, quality 50, 1280 wide from a ${WIDTH}x${HEIGHT} input (AVIF_EFFORT is ${AVIF_EFFORT})`);
  console.log(table(await measureAvif(inputs[0]!)));
  console.log(`\nfinished in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

// The libvips operation cache would serve later rounds from earlier ones; a worker never sees an input twice.
sharp.cache(false);
await main();
