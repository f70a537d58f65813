/**
 * Compares worker settings on the throughput figure: one worker, N 1024x768
 * jobs, once per variant per round, the variants taking turns round by round
 * so that a busy spell on a shared machine hits them alike. Prints, per
 * variant (on top of the container image's environment, unless
 * --no-image-env), the medians of img/s, CPU per image of the worker, of
 * Postgres and of the whole machine, and peak RSS, and the median ratio to
 * the first variant within the same round.
 *
 * node --import tsx bench/pipeline/compare.ts --rounds 3 --jobs 300 \
 *   --variant 'default' --variant 'UV_THREADPOOL_SIZE=16' --variant 'CONCURRENCY=4 PREFETCH=8'
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageEnv } from './image-env.ts';
import { cpuUsedBetween, machineCpu } from './machine-cpu.ts';
import { loadInputs } from './inputs.ts';
import { runAll, startPipeline } from './pipeline.ts';
import { startBenchSource } from './source.ts';
import { numberFlag } from './options.ts';
import { median } from './table.ts';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => numberFlag(argv, name, fallback);
const rounds = flag('--rounds', 3);
const jobs = flag('--jobs', 300);
const variants = argv.flatMap((arg, index) => (arg === '--variant' ? [argv[index + 1]!] : []));
if (variants.length === 0) variants.push('default');

/** `A=1 B=2` as an environment; `default` (or any word without `=`) adds nothing. */
function envOf(variant: string): Record<string, string> {
  return Object.fromEntries(
    variant
      .split(/\s+/)
      .filter((pair) => pair.includes('='))
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  );
}

const inputs = await loadInputs(console.error);
const source = await startBenchSource(inputs.photos, inputs.large);
const logDir = await mkdtemp(join(tmpdir(), 'imgpipe-compare-'));
const results = new Map(variants.map((variant) => [variant, { rate: [] as number[], cpu: [] as number[], postgres: [] as number[], machine: [] as number[], rss: [] as number[], ratio: [] as number[] }]));
try {
  for (let round = 0; round < rounds; round += 1) {
    let first: number | undefined;
    for (const variant of variants) {
      const pipeline = await startPipeline({
        rows: jobs,
        urlBase: source.photoBase,
        allowHosts: source.hostPort,
        workers: 1,
        baseEnv: argv.includes('--no-image-env') ? {} : imageEnv(),
        workerEnv: envOf(variant),
        logDir: join(logDir, `${round}-${variants.indexOf(variant)}`),
      });
      try {
        const worker = pipeline.workers[0]!;
        const cpuBefore = await worker.cpuSeconds();
        const machineBefore = await machineCpu();
        const seconds = await runAll(pipeline, jobs);
        const used = cpuUsedBetween(machineBefore, await machineCpu());
        const result = results.get(variant)!;
        const rate = jobs / seconds;
        first ??= rate;
        result.rate.push(rate);
        result.cpu.push(((await worker.cpuSeconds()) - cpuBefore) * 1000 / jobs);
        result.postgres.push((used.postgres * 1000) / jobs);
        result.machine.push((used.machine * 1000) / jobs);
        result.rss.push(await worker.peakRssMiB());
        result.ratio.push(rate / first);
        console.error(`round ${round + 1} ${variant}: ${rate.toFixed(1)} img/s`);
      } finally {
        await pipeline.close();
      }
    }
  }
} finally {
  await source.close();
}
console.log(`| worker env | img/s | ratio to "${variants[0]}" | worker CPU ms/img | Postgres CPU ms/img | machine CPU ms/img | peak RSS MiB |`);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const [variant, result] of results) {
  console.log(`| ${variant} | ${median(result.rate).toFixed(1)} | ${median(result.ratio).toFixed(2)} | ${median(result.cpu).toFixed(1)} | ${median(result.postgres).toFixed(2)} | ${median(result.machine).toFixed(1)} | ${median(result.rss).toFixed(0)} |`);
}
