import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface LogLine {
  readonly [key: string]: unknown;
  readonly msg?: string;
}

export interface RunningProcess {
  readonly child: ChildProcess;
  /** Every JSON line the process wrote to stdout so far. */
  readonly lines: LogLine[];
  /** Resolves with the first line (already seen or still to come) that matches. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface NodeProcessOptions {
  /** Arguments after the script. */
  readonly args?: readonly string[];
  /** Opens an IPC channel: `child.send()` and the child's `process.on('message')`. */
  readonly ipc?: boolean;
}

/** Starts a built bundle (`dist/*.mjs`) as a real child process with the given environment. */
export function startNodeProcess(script: string, env: Record<string, string>, options: NodeProcessOptions = {}): RunningProcess {
  const child = spawn(process.execPath, ['--enable-source-maps', script, ...(options.args ?? [])], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', OTEL_SDK_DISABLED: 'true', ...env },
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as LogLine);
    } catch {
      lines.push({ msg: text });
    }
    for (const wake of waiters) wake();
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);

  return {
    child,
    lines,
    waitForLine(match, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(match);
          if (found) {
            cleanup();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${script}: no matching log line within ${timeoutMs} ms\nstderr: ${stderr}\nstdout: ${lines.map((l) => JSON.stringify(l)).join('\n')}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`${script} exited before the expected log line\nstderr: ${stderr}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          child.off('exit', onExit);
        };
        waiters.add(check);
        child.once('exit', onExit);
        check();
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
