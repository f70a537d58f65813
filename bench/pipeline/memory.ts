/**
 * Where one worker's memory goes over N 1024x768 jobs: the peaks, sampled
 * every 20 ms, of its resident set split into file-backed pages (node and
 * libvips mapped from disk, shared with every process that maps them) and
 * anonymous memory, and of V8's heap and of the memory held by Buffers
 * (`external`), read from the worker's own `/metrics`.
 *
 * node --import tsx bench/pipeline/memory.ts [jobs] [K=V …]   extra worker environment, e.g. TRANSFORM_CONCURRENCY=16
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imageEnv } from './image-env.ts';
import { loadInputs } from './inputs.ts';
import { runAll, startPipeline } from './pipeline.ts';
import { startBenchSource } from './source.ts';

const args = process.argv.slice(2);
const jobs = Number(args.find((arg) => /^\d+$/.test(arg)) ?? 300);
const workerEnv = Object.fromEntries(args.filter((arg) => arg.includes('=')).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));

const METRICS = {
  'V8 heap': 'nodejs_heap_size_total_bytes',
  'Buffers (external)': 'nodejs_external_memory_bytes',
} as const;
const STATUS = { 'resident set': 'VmRSS', 'file-backed': 'RssFile', anonymous: 'RssAnon' } as const;

const inputs = await loadInputs(console.error);
const source = await startBenchSource(inputs.photos, inputs.large);
const pipeline = await startPipeline({
  rows: jobs,
  urlBase: source.photoBase,
  allowHosts: source.hostPort,
  workers: 1,
  baseEnv: imageEnv(),
  workerEnv,
  logDir: await mkdtemp(join(tmpdir(), 'imgpipe-memory-')),
});
try {
  const worker = pipeline.workers[0]!;
  const metricsPort = Number(/"metricsPort":(\d+)/.exec(await readFile(worker.logFile, 'utf8'))?.[1]);
  const peaks = new Map<string, number>();
  const keepPeak = (name: string, mib: number) => peaks.set(name, Math.max(peaks.get(name) ?? 0, mib));
  let running = true;
  const sampling = (async () => {
    while (running) {
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      for (const [name, metric] of Object.entries(METRICS)) keepPeak(name, Number(new RegExp(`^${metric} (\\S+)`, 'm').exec(metrics)?.[1]) / 2 ** 20);
      const status = await readFile(`/proc/${worker.child.pid}/status`, 'utf8');
      for (const [name, field] of Object.entries(STATUS)) keepPeak(name, Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1]) / 1024);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const seconds = await runAll(pipeline, jobs);
  running = false;
  await sampling;
  console.log(`${jobs} jobs at ${(jobs / seconds).toFixed(1)} img/s, worker env ${JSON.stringify(workerEnv)}; peak VmHWM ${(await worker.peakRssMiB()).toFixed(0)} MiB`);
  for (const [name, mib] of peaks) console.log(`  peak ${name}: ${mib.toFixed(0)} MiB`);
} finally {
  await pipeline.close();
  await source.close();
}
