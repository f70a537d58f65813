/**
 * The baseline: raw sharp in its own process on the benchmark's input buffers,
 * `rotate().resize(400, 400, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80 })`,
 * at each given concurrency. Prints one JSON line: images/s per concurrency and
 * the process's peak RSS.
 *
 * node --import tsx bench/pipeline/raw-sharp.ts <dir> <photo|large> <distinct> <jobs> <concurrency,…>
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { peakRssMiB } from './processes.ts';

const [dir, kind, distinctArg, jobsArg, concurrencyArg] = process.argv.slice(2);
const distinct = Number(distinctArg);
const jobs = Number(jobsArg);
const inputs = await Promise.all(Array.from({ length: distinct }, (_, index) => readFile(join(dir!, `${kind}-${index}.jpg`))));

const transform = (input: Buffer) =>
  sharp(input).rotate().resize(400, 400, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 80 }).toBuffer();

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
