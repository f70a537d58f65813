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

async function pass(concurrency: number, count: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next;
        next += 1;
        await transform(inputs[index % inputs.length]!);
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const rates: Record<string, number> = {};
for (const concurrency of concurrencyArg!.split(',').map(Number)) {
  await pass(concurrency, Math.min(jobs, 2 * concurrency));
  rates[concurrency] = await pass(concurrency, jobs);
}
console.log(JSON.stringify({ rates, peakRssMiB: await peakRssMiB(process.pid) }));
