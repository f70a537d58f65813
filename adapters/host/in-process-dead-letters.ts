import type { DeadLetter, DeadLetterQueue, DeadLetterSummary, JobsRepo, QueueMonitor, QueueStats, ReplayOptions, ReplaySummary } from '#functions/ports.ts';
import type { InProcessQueue } from './in-process-queue.ts';

/**
 * The dead letters and depths of the local host's {@link InProcessQueue}, as
 * the api reads RabbitMQ's: `list` counts them by `x-error-code`, `replay`
 * clears the jobs' failed marks and queues the matching messages again with
 * their attempts afresh. They live in memory: they end with the process, as
 * the queue does.
 */
export class InProcessDeadLetters implements DeadLetterQueue, QueueMonitor {
  constructor(
    private readonly queue: InProcessQueue,
    private readonly jobs: Pick<JobsRepo, 'clearFailed'>,
  ) {}

  async list(newest: number): Promise<DeadLetterSummary> {
    const letters = this.queue.deadLetters.map(describe);
    return { total: letters.length, byCode: countByCode(letters), newest: newest > 0 ? letters.slice(-newest).reverse() : [] };
  }

  async stats(): Promise<QueueStats> {
    const { ready, unacked, delayed } = this.queue.stats();
    const letters = this.queue.deadLetters.map(describe);
    return { queued: ready + unacked + delayed, deadLettered: letters.length, deadByCode: countByCode(letters) };
  }

  async replay(options: ReplayOptions): Promise<ReplaySummary> {
    const examined = this.queue.deadLetters.length;
    const matches = (letter: DeadLetter) =>
      (options.code === undefined || letter.code === options.code) && (options.id === undefined || letter.id === options.id);
    const matched = this.queue.deadLetters.filter((message) => matches(describe(message))).slice(0, options.limit ?? Number.POSITIVE_INFINITY);
    if (options.dryRun) return { examined, matched: matched.length, replayed: 0, failed: 0, dryRun: true };
    await this.jobs.clearFailed(matched.flatMap((message) => (message.jobId ? [message.jobId] : [])));
    this.queue.replay(matched);
    options.onProgress?.({ handled: matched.length, total: matched.length, replayed: matched.length });
    return { examined, matched: matched.length, replayed: matched.length, failed: 0, dryRun: false };
  }
}

function describe(message: InProcessQueue['deadLetters'][number]): DeadLetter {
  return {
    id: message.jobId ?? message.messageId,
    code: message.headers['x-error-code'],
    message: message.headers['x-error-message'],
    attempts: message.headers['x-attempts'],
  };
}

function countByCode(letters: readonly DeadLetter[]): Record<string, number> {
  const byCode: Record<string, number> = {};
  for (const { code } of letters) byCode[code] = (byCode[code] ?? 0) + 1;
  return byCode;
}
