import { imageEnv } from './image-env.ts';

/** The flags of `npm run bench`: what to run, how big, how often. */
export const SECTIONS = ['throughput', 'large', 'enqueue', 'http', 'startup'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  readonly sections: readonly Section[];
  /** Whole-suite repetitions; every figure is the median over them. */
  readonly runs: number;
  /** 1024x768 jobs per throughput figure. */
  readonly jobs: number;
  /** 24 MP jobs in the large-input figure. */
  readonly largeJobs: number;
  /** Rows published by the enqueue figure. */
  readonly enqueueRows: number;
  /** Seconds each HTTP load lasts. */
  readonly httpSeconds: number;
  /** Start-up samples per figure. */
  readonly startups: number;
  /** The container image's environment, given to the api and the workers (empty with --no-image-env). */
  readonly processEnv: Readonly<Record<string, string>>;
  /** Extra environment for every worker (e.g. `UV_THREADPOOL_SIZE=2`), to compare settings. */
  readonly workerEnv: Readonly<Record<string, string>>;
  readonly build: boolean;
  readonly json: string | undefined;
}

const QUICK = { runs: 1, jobs: 100, largeJobs: 60, enqueueRows: 2_000, httpSeconds: 3, startups: 3 };
const FULL = { runs: 3, jobs: 300, largeJobs: 3_000, enqueueRows: 10_000, httpSeconds: 10, startups: 5 };

export const USAGE = `npm run bench -- [--quick | --full] [options]

  --quick              a few minutes: 100 jobs, 60 large jobs, 2,000 enqueued, 3 s loads, 1 run (default)
  --full               the issue's sizes: 300 jobs, 3,000 large jobs, 10,000 enqueued, 10 s loads, 3 runs
  --only a,b           sections: ${SECTIONS.join(', ')}
  --runs N             repeat the whole suite N times; figures are medians
  --jobs N             1024x768 jobs per throughput figure
  --large-jobs N       24 MP jobs at CONCURRENCY=8
  --enqueue N          rows for POST /enqueue?limit=N (at most 10000)
  --http-seconds N     duration of each autocannon load
  --worker-env K=V     extra environment for every worker (repeatable)
  --no-image-env       run the bundles without the Dockerfile's ENV (MALLOC_ARENA_MAX, UV_THREADPOOL_SIZE, NODE_OPTIONS)
  --no-build           use dist/ as it is
  --json FILE          also write every sample and median as JSON`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const full = argv.includes('--full');
  const base = full ? FULL : QUICK;
  const value = (flag: string): string | undefined => {
    const index = argv.indexOf(flag);
    return index === -1 ? undefined : argv[index + 1];
  };
  const int = (flag: string, fallback: number): number => {
    const raw = value(flag);
    if (raw === undefined) return fallback;
    const parsed = Number(raw);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${flag} takes a positive integer, not ${raw}`);
    return parsed;
  };
  const only = value('--only');
  const sections = only ? only.split(',').map((name) => name.trim()) : [...SECTIONS];
  for (const name of sections) {
    if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`--only: unknown section ${name}`);
  }
  const workerEnv: Record<string, string> = {};
  argv.forEach((arg, index) => {
    if (arg !== '--worker-env') return;
    const pair = argv[index + 1] ?? '';
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`--worker-env takes NAME=VALUE, not ${pair}`);
    workerEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
  });
  return {
    sections: sections as Section[],
    runs: int('--runs', base.runs),
    jobs: int('--jobs', base.jobs),
    largeJobs: int('--large-jobs', base.largeJobs),
    enqueueRows: Math.min(10_000, int('--enqueue', base.enqueueRows)),
    httpSeconds: int('--http-seconds', base.httpSeconds),
    startups: int('--startups', base.startups),
    processEnv: argv.includes('--no-image-env') ? {} : imageEnv(),
    workerEnv,
    build: !argv.includes('--no-build'),
    json: value('--json'),
  };
}

/** The number after `name` in `argv`, or `fallback` when the flag is absent. */
export function numberFlag(argv: readonly string[], name: string, fallback: number): number {
  const index = argv.indexOf(name);
  if (index === -1) return fallback;
  const value = Number(argv[index + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} takes a positive number, not ${argv[index + 1]}`);
  return value;
}
