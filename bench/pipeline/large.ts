import type { Figure } from './figure.ts';
import { LARGE_COUNT, type Inputs } from './inputs.ts';
import type { BenchOptions } from './options.ts';
import { runAll, startPipeline } from './pipeline.ts';
import { rawSharp } from './raw-baseline.ts';
import type { BenchSource } from './source.ts';

/** Jobs after which the worker's peak RSS must stop growing (the 500, or a sixth of a quick run). */
function settleAfter(jobs: number): number {
  return Math.min(500, Math.floor(jobs / 6));
}

/**
 * 24 MP JPEGs through one worker at `CONCURRENCY=8`: peak RSS (VmHWM) after
 * the first jobs and at the end, against raw sharp at concurrency 8 in its own process.
 */
export async function large(options: BenchOptions, inputs: Inputs, source: BenchSource, logDir: string, log: (line: string) => void): Promise<Figure[]> {
  const jobs = options.largeJobs;
  const raw = await rawSharp(inputs.dir, 'large', LARGE_COUNT, Math.min(jobs, 64), [8]);
  log(`raw sharp 24 MP: ${raw.best.toFixed(2)} img/s, peak ${raw.peakRssMiB.toFixed(0)} MiB`);
  const pipeline = await startPipeline({
    rows: jobs,
    urlBase: source.largeBase,
    allowHosts: source.hostPort,
    workers: 1,
    baseEnv: options.processEnv,
    workerEnv: { ...options.workerEnv, CONCURRENCY: '8' },
    logDir: `${logDir}/large`,
  });
  const mark = settleAfter(jobs);
  let peakAtMark: number | undefined;
  let seconds: number;
  let peakAtEnd: number;
  try {
    const worker = pipeline.workers[0]!;
    seconds = await runAll(pipeline, jobs, async (done) => {
      if (peakAtMark === undefined && done >= mark) peakAtMark = await worker.peakRssMiB();
    });
    peakAtEnd = await worker.peakRssMiB();
  } finally {
    await pipeline.close();
  }
  log(`24 MP: ${(jobs / seconds).toFixed(2)} img/s, peak ${peakAtMark?.toFixed(0)} MiB after ${mark}, ${peakAtEnd.toFixed(0)} MiB after ${jobs}`);
  const section = `large inputs (${jobs} x 24 MP, CONCURRENCY=8)`;
  return [
    { section, name: 'worker peak RSS', value: peakAtEnd, unit: 'MiB', baselineName: 'raw sharp c=8 process', baseline: raw.peakRssMiB, target: '<= 334 MiB (350 MB)' },
    { section, name: `peak RSS growth after job ${mark}`, value: peakAtEnd, unit: 'MiB', baselineName: `peak at job ${mark}`, baseline: peakAtMark ?? Number.NaN, target: '<= 1.10' },
    { section, name: '1 worker', value: jobs / seconds, unit: 'img/s', baselineName: 'raw sharp c=8', baseline: raw.best, target: '' },
  ];
}
