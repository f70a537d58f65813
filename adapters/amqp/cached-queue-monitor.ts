import type { QueueMonitor, QueueStats } from '#functions/ports.ts';

/**
 * A {@link QueueMonitor} that asks the broker at most once per `maxAgeMs`
 * (default 5 s), however often pages and scrapes ask it: younger answers are
 * reused and concurrent callers share one call in flight. A failure is not
 * kept, so the next caller asks again.
 *
 * @example
 * const monitor = new CachedQueueMonitor(() => deadLetters.queueStats());
 * await monitor.stats(); // → { queued: 12, deadLettered: 3, deadByCode: { HTTP_404: 3 } }
 */
export class CachedQueueMonitor implements QueueMonitor {
  #last: { stats: QueueStats; at: number } | undefined;
  #inFlight: Promise<QueueStats> | undefined;

  constructor(
    private readonly load: () => Promise<QueueStats>,
    private readonly maxAgeMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  async stats(): Promise<QueueStats> {
    if (this.#last && this.now() - this.#last.at < this.maxAgeMs) return this.#last.stats;
    this.#inFlight ??= this.load()
      .then((stats) => {
        this.#last = { stats, at: this.now() };
        return stats;
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  /** The last answer without asking, for metrics collected synchronously; undefined before the first. */
  get last(): QueueStats | undefined {
    return this.#last?.stats;
  }
}
