import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface BenchProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Peak resident set (VmHWM), in MiB, while the process runs. */
  peakRssMiB(): Promise<number>;
  /** User plus system CPU seconds the process used so far, all threads. */
  cpuSeconds(): Promise<number>;
  /** SIGTERM, then SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/** Every process started here and still running: killed when the benchmark exits, however it exits. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/**
 * Starts `node [nodeArgs] <script>` with only PATH and `env`; stdout and
 * stderr go to `<logDir>/<name>.log`, so the benchmark process does not spend
 * its CPU reading them.
 */
export async function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  logDir: string,
  nodeArgs: readonly string[] = [],
): Promise<BenchProcess> {
  const logFile = join(logDir, `${name}.log`);
  await mkdir(logDir, { recursive: true });
  const log = await open(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', OTEL_SDK_DISABLED: 'true', ...env },
    stdio: ['ignore', log.fd, log.fd],
  });
  await log.close();
  running.add(child);
  const exited = once(child, 'exit');
  void exited.then(() => running.delete(child));
  return {
    child,
    logFile,
    peakRssMiB: () => peakRssMiB(child.pid!),
    cpuSeconds: () => cpuSeconds(child.pid!),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export const CLOCK_TICKS_PER_SECOND = 100;

/** A `/proc/<pid>/stat` line: the command name, and the fields after it (index 0 is field 3, the state). */
export function parseProcStat(stat: string): { command: string; fields: number[] } {
  // The command name may hold spaces and parentheses: it ends at the last ')'.
  return { command: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number) };
}

export async function cpuSeconds(pid: number): Promise<number> {
  // utime is field 14, stime 15.
  const { fields } = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  return (fields[11]! + fields[12]!) / CLOCK_TICKS_PER_SECOND;
}

export { waitUntil as poll } from '#test/support/wait-until.ts';

/** True once `url` answers 200. */
export async function answers200(url: string): Promise<boolean> {
  const response = await fetch(url);
  await response.arrayBuffer();
  return response.status === 200;
}
