import { startOtlpReceiver } from '#test/support/otlp-receiver.ts';
import { startS3Server } from '#test/support/s3-server.ts';
import type { Figure } from './figure.ts';
import { PHOTO_COUNT, type Inputs } from './inputs.ts';
import type { BenchOptions } from './options.ts';
import { cpuUsedBetween, machineCpu, type MachineCpu } from './machine-cpu.ts';
import { runAll, startPipeline, type PipelineOptions } from './pipeline.ts';
import { rawSharp, type RawSharp } from './raw-baseline.ts';
import type { BenchSource } from './source.ts';

interface Measured {
  readonly imgPerSec: number;
  readonly workerPeakMiB: number;
  /** Worker CPU (all threads, all workers) per image, start-up excluded. */
  readonly workerCpuMs: number;
  /** The api's and the workers' CPU per image together. */
  readonly pipelineCpuMs: number;
  readonly apiCpuMs: number;
  /** Per image, by part of the machine; `machine` is every process's. */
  readonly split: MachineCpu;
}

/**
 * 1024x768 photos from `POST /enqueue` to the last row marked: one worker,
 * two workers, `STORAGE=minio` on s3rver, tracing to an OTLP receiver; and
 * raw sharp (best of concurrency 2/4/8) on the same buffers.
 */
export async function throughput(options: BenchOptions, inputs: Inputs, source: BenchSource, logDir: string, log: (line: string) => void): Promise<{ figures: Figure[]; raw: RawSharp }> {
  const jobs = options.jobs;
  const raw = await rawSharp(inputs.dir, 'photo', PHOTO_COUNT, jobs, [2, 4, 8]);
  log(`raw sharp: ${raw.best.toFixed(1)} img/s at concurrency ${raw.bestConcurrency}, ${raw.cpuMsPerImage.toFixed(1)} CPU ms/img`);
  const op = await rawSharp(inputs.dir, 'photo', PHOTO_COUNT, jobs, [raw.bestConcurrency], 'op');
  log(`thumbnail op alone: ${op.best.toFixed(1)} img/s, ${op.cpuMsPerImage.toFixed(1)} CPU ms/img`);
  const base: Omit<PipelineOptions, 'workers' | 'logDir'> = {
    rows: jobs,
    urlBase: source.photoBase,
    allowHosts: source.hostPort,
    baseEnv: options.processEnv,
    workerEnv: options.workerEnv,
  };
  const run = async (label: string, extra: Partial<PipelineOptions>): Promise<Measured> => {
    const pipeline = await startPipeline({ ...base, workers: 1, logDir: `${logDir}/${label}`, ...extra });
    try {
      const cpu = async () => {
        const workers = await Promise.all(pipeline.workers.map((worker) => worker.cpuSeconds()));
        const sum = workers.reduce((a, b) => a + b, 0);
        return { workers: sum, all: sum + (await pipeline.api.cpuSeconds()), machine: await machineCpu() };
      };
      const before = await cpu();
      const seconds = await runAll(pipeline, jobs);
      const after = await cpu();
      const peaks = await Promise.all(pipeline.workers.map((worker) => worker.peakRssMiB()));
      const perImage = (seconds: number) => (seconds * 1000) / jobs;
      const used = cpuUsedBetween(before.machine, after.machine);
      const measured = {
        imgPerSec: jobs / seconds,
        workerPeakMiB: Math.max(...peaks),
        workerCpuMs: perImage(after.workers - before.workers),
        pipelineCpuMs: perImage(after.all - before.all),
        apiCpuMs: perImage(after.all - after.workers - (before.all - before.workers)),
        split: { machine: perImage(used.machine), rabbitmq: perImage(used.rabbitmq), postgres: perImage(used.postgres), bench: perImage(used.bench) },
      };
      const { split } = measured;
      const other = split.machine - measured.pipelineCpuMs - split.rabbitmq - split.postgres - split.bench;
      log(
        `${label}: ${measured.imgPerSec.toFixed(1)} img/s, worker peak ${measured.workerPeakMiB.toFixed(0)} MiB; CPU ms/img: ` +
          `worker ${measured.workerCpuMs.toFixed(2)}, api ${measured.apiCpuMs.toFixed(2)}, RabbitMQ ${split.rabbitmq.toFixed(2)}, ` +
          `Postgres ${split.postgres.toFixed(2)}, source and bench ${split.bench.toFixed(2)}, other ${other.toFixed(2)}, machine ${split.machine.toFixed(2)}`,
      );
      return measured;
    } finally {
      await pipeline.close();
    }
  };

  const one = await run('1-worker', {});
  const two = await run('2-workers', { workers: 2 });
  const s3server = await startS3Server();
  let s3: Measured;
  try {
    s3 = await run('s3', {
      env: {
        STORAGE: 'minio',
        S3_ENDPOINT: s3server.endpoint,
        S3_BUCKET: 'thumbnails',
        S3_ACCESS_KEY_ID: s3server.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3server.credentials.secretAccessKey,
      },
    });
  } finally {
    await s3server.close();
  }
  const receiver = await startOtlpReceiver();
  let traced: Measured;
  try {
    traced = await run('tracing', { env: { OTEL_SDK_DISABLED: 'false', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl } });
  } finally {
    await receiver.close();
  }

  const section = `throughput (${jobs} x 1024x768)`;
  const rawName = `raw sharp, best of c=2/4/8`;
  return {
    raw,
    figures: [
      { section, name: '1 worker, defaults', value: one.imgPerSec, unit: 'img/s', baselineName: rawName, baseline: raw.best, target: '>= 0.85' },
      { section, name: '2 workers', value: two.imgPerSec, unit: 'img/s', baselineName: '1 worker', baseline: one.imgPerSec, target: '>= 1.0' },
      { section, name: '2 workers', value: two.imgPerSec, unit: 'img/s', baselineName: rawName, baseline: raw.best, target: '' },
      { section, name: 'thumbnail op alone, same process setup', value: op.best, unit: 'img/s', baselineName: rawName, baseline: raw.best, target: '' },
      { section, name: 'CPU per image: thumbnail op alone', value: op.cpuMsPerImage, unit: 'ms', baselineName: 'raw sharp', baseline: raw.cpuMsPerImage, target: '' },
      { section, name: 'CPU per image: 1 worker (all threads)', value: one.workerCpuMs, unit: 'ms', baselineName: 'raw sharp', baseline: raw.cpuMsPerImage, target: '' },
      {
        section,
        name: 'cores used: 1 worker',
        value: (one.workerCpuMs * one.imgPerSec) / 1000,
        unit: 'cores',
        baselineName: 'raw sharp',
        baseline: (raw.cpuMsPerImage * raw.best) / 1000,
        target: '',
      },
      ...machineFigures(section, one, raw),
      { section, name: 'worker peak RSS (1 worker)', value: one.workerPeakMiB, unit: 'MiB', baselineName: 'raw sharp process', baseline: raw.peakRssMiB, target: '<= 128 MiB' },
      { section, name: 'STORAGE=minio (s3rver)', value: s3.imgPerSec, unit: 'img/s', baselineName: '1 worker, fs', baseline: one.imgPerSec, target: '>= 0.8' },
      { section, name: 'tracing on (OTLP receiver)', value: traced.imgPerSec, unit: 'img/s', baselineName: '1 worker, tracing off', baseline: one.imgPerSec, target: '>= 0.95' },
    ],
  };
}

/**
 * Where one worker's run spent the machine's CPU, per image, against raw
 * sharp's; and the most the pipeline could reach were it bound by CPU alone:
 * the cores raw sharp kept busy divided by the whole machine's CPU per image.
 */
function machineFigures(section: string, one: Measured, raw: RawSharp): Figure[] {
  const perImage = (name: string, value: number): Figure => ({ section, name: `CPU per image: ${name}`, value, unit: 'ms', baselineName: 'raw sharp', baseline: raw.cpuMsPerImage, target: '' });
  const rawCores = (raw.cpuMsPerImage * raw.best) / 1000;
  return [
    perImage('api', one.apiCpuMs),
    perImage('RabbitMQ', one.split.rabbitmq),
    perImage('Postgres', one.split.postgres),
    perImage('image source (bench process)', one.split.bench),
    perImage('whole machine, 1 worker', one.split.machine),
    {
      section,
      name: "CPU-bound ceiling, 1 worker: raw sharp's cores / machine CPU per image",
      value: (rawCores * 1000) / one.split.machine,
      unit: 'img/s',
      baselineName: 'raw sharp, best of c=2/4/8',
      baseline: raw.best,
      target: '',
    },
  ];
}
