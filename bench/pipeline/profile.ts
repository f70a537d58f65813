/**
 * Profiles one process of the pipeline under the benchmark's load and prints
 * where its main thread spends its time (see profile-summary.ts).
 *
 * node --import tsx bench/pipeline/profile.ts worker [jobs] [--worker-env K=V …]   one worker, N 1024x768 jobs
 * node --import tsx bench/pipeline/profile.ts api [seconds]                         POST /tasks at 32 connections
 * node --import tsx bench/pipeline/profile.ts enqueue [rows]                        POST /enqueue?limit=rows (summary: the request only)
 *
 * Set STRACE=1 to run the profiled process under `strace -f -c` as well
 * (syscall counts per thread group, written next to the profile).
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { loadInputs } from './inputs.ts';
import { parseOptions } from './options.ts';
import { enqueue, runAll, startPipeline } from './pipeline.ts';
import { startBenchSource } from './source.ts';

const [target = 'worker', amountArg] = process.argv.slice(2);
const options = parseOptions(process.argv.slice(2).filter((arg, index, all) => !/^\d+$/.test(arg) || all[index - 1] === '--worker-env'));
const dir = await mkdtemp(join(tmpdir(), `imgpipe-profile-${target}-`));
const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
const inputs = await loadInputs(console.error);
const source = await startBenchSource(inputs.photos, inputs.large);
const jobs = target === 'api' ? 1 : Number(amountArg ?? (target === 'worker' ? 300 : 10_000));
const pipeline = await startPipeline({
  rows: jobs,
  urlBase: source.photoBase,
  allowHosts: source.hostPort,
  workers: target === 'worker' ? 1 : 0,
  baseEnv: options.processEnv,
  workerEnv: options.workerEnv,
  logDir: dir,
  ...(target === 'worker' ? { workerNodeArgs: nodeArgs } : { apiNodeArgs: nodeArgs }),
});
let strace: { stop(): void } | undefined;
/** For the enqueue, the summary counts the request only, not the api's start-up. */
let summaryWindow: string[] = [];
const profiled = target === 'worker' ? pipeline.workers[0]! : pipeline.api;
if (process.env.STRACE === '1') {
  const { spawn } = await import('node:child_process');
  const child = spawn('strace', ['-f', '-c', '-o', join(dir, 'strace.txt'), '-p', String(profiled.child.pid)], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 500));
  strace = { stop: () => child.kill('SIGINT') };
}
try {
  if (target === 'worker') {
    const seconds = await runAll(pipeline, jobs);
    console.error(`${jobs} jobs in ${seconds.toFixed(2)} s: ${(jobs / seconds).toFixed(1)} img/s`);
  } else if (target === 'enqueue') {
    const startedUs = process.hrtime.bigint() / 1000n;
    await enqueue(pipeline.apiUrl, jobs);
    const endedUs = process.hrtime.bigint() / 1000n;
    console.error(`POST /enqueue?limit=${jobs}: ${(jobs / (Number(endedUs - startedUs) / 1e6)).toFixed(0)} msg/s`);
    summaryWindow = ['--window', `${startedUs}:${endedUs}`];
  } else {
    const result = await autocannon({
      url: `${pipeline.apiUrl}/tasks`,
      connections: 32,
      duration: Number(amountArg ?? 5),
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://picsum.photos/seed/7/1024/768', ops: ['thumbnail'] }),
    });
    console.error(`POST /tasks c=32: ${result.requests.average} req/s, p99 ${result.latency.p99} ms`);
  }
} finally {
  strace?.stop();
  await pipeline.close();
  await source.close();
}
const profile = (await readdir(dir)).find((name) => name.endsWith('.cpuprofile'));
console.error(`profile and logs in ${dir}`);
if (profile) {
  execFileSync(process.execPath, ['--import', 'tsx', 'bench/pipeline/profile-summary.ts', join(dir, profile), '30', ...summaryWindow], { stdio: 'inherit' });
}
