import type { Clock, JobContext, Logger } from '#functions/ports.ts';

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  constructor(public time = 0) {}
  now(): number {
    return this.time;
  }
}

/** A logger that keeps every line, for assertions on what was said. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: string; context: object; message: string | undefined }> = [];
  debug(context: object, message?: string) {
    this.lines.push({ level: 'debug', context, message });
  }
  info(context: object, message?: string) {
    this.lines.push({ level: 'info', context, message });
  }
  warn(context: object, message?: string) {
    this.lines.push({ level: 'warn', context, message });
  }
  error(context: object, message?: string) {
    this.lines.push({ level: 'error', context, message });
  }
}

export function jobContext(overrides: Partial<JobContext> = {}): JobContext {
  return { signal: new AbortController().signal, log: new MemoryLogger(), attempt: 1, isLastAttempt: false, ...overrides };
}
