import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RawSharp {
  /** Best images/s over the concurrencies tried. */
  readonly best: number;
  readonly bestConcurrency: number;
  readonly rates: Readonly<Record<string, number>>;
  readonly peakRssMiB: number;
  /** CPU milliseconds per image (all threads) at the best concurrency. */
  readonly cpuMsPerImage: number;
}

/** Runs `raw-sharp.ts` in a child process on the cached inputs; see there. */
export async function rawSharp(
  dir: string,
  kind: 'photo' | 'large',
  distinct: number,
  jobs: number,
  concurrencies: readonly number[],
  variant: 'raw' | 'op' = 'raw',
): Promise<RawSharp> {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'bench/pipeline/raw-sharp.ts', dir, kind, String(distinct), String(jobs), concurrencies.join(','), variant],
    { env: { PATH: process.env.PATH ?? '' }, maxBuffer: 1 << 20 },
  );
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    rates: Record<string, number>;
    cpuMsPerImage: Record<string, number>;
    peakRssMiB: number;
  };
  const [bestConcurrency, best] = Object.entries(result.rates).sort((a, b) => b[1] - a[1])[0]!;
  return {
    best,
    bestConcurrency: Number(bestConcurrency),
    rates: result.rates,
    peakRssMiB: result.peakRssMiB,
    cpuMsPerImage: result.cpuMsPerImage[bestConcurrency]!,
  };
}
