/**
 * The baseline: raw sharp in its own process on the benchmark's input buffers,
 * `rotate().resize(400, 400, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80 })`,
 * at each given concurrency. Prints one JSON line: images/s and CPU per image
 * per concurrency, and the process's peak RSS. With `op`, runs the worker's
 * own `makeThumbnail` instead, to tell the op's cost from the pipeline's.
 *
 * node --import tsx bench/pipeline/raw-sharp.ts <dir> <photo|large> <distinct> <jobs> <concurrency,…> [raw|op]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { makeThumbnail } from '#functions/thumbnail.ts';
import { peakRssMiB } from './processes.ts';

const [dir, kind, distinctArg, jobsArg, concurrencyArg, variant = 'raw'] = process.argv.slice(2);
const distinct = Number(distinctArg);
const jobs = Number(jobsArg);
const inputs = await Promise.all(Array.from({ length: distinct }, (_, index) => readFile(join(dir!, `${kind}-${index}.jpg`))));

const transform = (input: Buffer): Promise<unknown> =>
  variant === 'op'
    ? makeThumbnail(input, { size: 400, maxInputPixels: 100_000_000 })
    : sharp(input).rotate().resize(400, 400, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80 }).toBuffer();

async function pass(concurrency: number, count: number): Promise<{ rate: number; cpuMsPerImage: number }> {
  let next = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next;
        next += 1;
        await transform(inputs[index % inputs.length]!);
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { rate: count / ((performance.now() - started) / 1000), cpuMsPerImage: (used.user + used.system) / 1000 / count };
}

const rates: Record<string, number> = {};
const cpuMsPerImage: Record<string, number> = {};
for (const concurrency of concurrencyArg!.split(',').map(Number)) {
  await pass(concurrency, Math.min(jobs, 2 * concurrency));
  const measured = await pass(concurrency, jobs);
  rates[concurrency] = measured.rate;
  cpuMsPerImage[concurrency] = measured.cpuMsPerImage;
}
console.log(JSON.stringify({ rates, cpuMsPerImage, peakRssMiB: await peakRssMiB(process.pid) }));
