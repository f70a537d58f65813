import { TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import type { JobPublisher, Logger } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { Dispatcher, type SettledJob, type Settler } from '#adapters/jobs/dispatcher.ts';
import { OutcomeCounts } from '#adapters/jobs/outcome-counts.ts';
import type { FailureHeaders, Outcome, Settlement } from '#adapters/jobs/run-job.ts';
import { startProducerSpan, type Destination } from '#adapters/telemetry/message-tracing.ts';

export interface InProcessQueueOptions {
  /** Names the spans and messaging attributes, as the broker's exchange and routing key would. */
  readonly destination: Destination;
  /** Most messages handed to the consumer and not yet settled (`PREFETCH`). */
  readonly prefetch: number;
  /** Most jobs running at once (`CONCURRENCY`). */
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly log: Logger;
  /** Called once per settled message, for stats. Must not throw. */
  readonly onSettled?: (event: SettledJob) => void;
}

/** One message as the broker would hold it. */
export interface QueuedMessage {
  readonly body: string;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly messageId: string;
  /** 1 on first delivery; `x-attempts` + 1 after a retry. */
  readonly attempt: number;
}

export interface DeadLetter extends QueuedMessage {
  readonly jobId: string | undefined;
  readonly headers: Readonly<Record<string, unknown>> & FailureHeaders;
}

export interface InProcessQueueStats extends Readonly<Record<Outcome, number>> {
  readonly published: number;
  /** Waiting to be handed to the consumer (the queue's depth). */
  readonly ready: number;
  /** Handed to the consumer and not yet settled: buffered plus running. */
  readonly unacked: number;
  readonly running: number;
  /** Waiting out a retry delay. */
  readonly delayed: number;
}

/**
 * The broker path's semantics in memory, for the local host: a {@link JobPublisher}
 * whose `publish` enqueues one message per job (JSON body, trace context in the
 * headers, `messageId` = job id), and the intake of a {@link Dispatcher} that
 * holds at most `prefetch` unsettled messages, settling each as the broker would:
 *
 * - `written`, `skipped` → dropped;
 * - `retried` → re-enqueued after `delayMs` with `x-attempts` and the last error;
 * - `dead-lettered` → kept in {@link deadLetters} with `x-error-code`,
 *   `x-error-message` and `x-attempts`;
 * - `released` (shutdown mid-job) → put back at the front.
 *
 * Nothing outlives the process: the host hands rows left enqueued back to
 * pending on start and skips outputs that exist, so a restart redoes only
 * unfinished work.
 *
 * @example
 * const queue = new InProcessQueue({ destination, prefetch: 16, concurrency: 8, maxAttempts: 5, retryBaseMs: 1000, retryMaxMs: 60000, log });
 * queue.consume(processImageDeps);
 * await queue.publish(jobs);
 * await queue.idle();
 * await queue.close();
 */
export class InProcessQueue implements JobPublisher {
  /** Dead-lettered messages, oldest first. */
  readonly deadLetters: DeadLetter[] = [];

  readonly #options: InProcessQueueOptions;
  readonly #ready: QueuedMessage[] = [];
  /** Messages waiting out a retry delay, by their timer. */
  readonly #delayed = new Map<NodeJS.Timeout, QueuedMessage>();
  readonly #idleWaiters = new Set<() => void>();
  readonly #counts = new OutcomeCounts();
  #published = 0;
  #dispatcher: Dispatcher<QueuedMessage> | undefined;
  #stopped = false;
  #closing: Promise<void> | undefined;

  constructor(options: InProcessQueueOptions) {
    if (!Number.isInteger(options.prefetch) || options.prefetch < 1) throw new RangeError('prefetch must be a positive integer');
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.#options = options;
  }

  /** Enqueues one message per job; resolves once all are in the queue (the in-memory confirm). */
  async publish(jobs: readonly Job[]): Promise<void> {
    if (this.#stopped) throw new TransientError('QUEUE_CLOSED', 'the in-process queue is shut down');
    for (const job of jobs) {
      const span = startProducerSpan(this.#options.destination, job.id);
      this.#ready.push({ body: JSON.stringify(job), headers: { ...span.headers }, messageId: job.id, attempt: 1 });
      this.#published += 1;
      span.end();
    }
    this.#feed();
  }

  async ping(): Promise<void> {
    if (this.#stopped) throw new TransientError('QUEUE_CLOSED', 'the in-process queue is shut down');
  }

  /** Starts the consumer with the ports `processImage` needs. Call once. */
  consume(deps: ProcessImageDeps): void {
    if (this.#dispatcher) throw new Error('the in-process queue already has a consumer');
    const { destination, concurrency, maxAttempts, retryBaseMs, retryMaxMs, log, onSettled } = this.#options;
    this.#dispatcher = new Dispatcher<QueuedMessage>({
      concurrency,
      deps,
      log,
      job: { destination, maxAttempts, retryBaseMs, retryMaxMs },
      delivery: (message) => ({ ...message, headers: { ...message.headers } }),
      settler: this.#settler,
      onSettled: (event) => {
        this.#counts.record(event.settlement.outcome);
        onSettled?.(event);
        this.#feed();
        this.#wakeIdleWaiters();
      },
    });
    this.#feed();
  }

  stats(): InProcessQueueStats {
    const dispatcher = this.#dispatcher;
    return {
      published: this.#published,
      ...this.#counts.snapshot(),
      ready: this.#ready.length,
      unacked: dispatcher?.held ?? 0,
      running: dispatcher?.running ?? 0,
      delayed: this.#delayed.size,
    };
  }

  /** Resolves once nothing is ready, unsettled or waiting for a retry. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#isIdle()) resolve();
      else this.#idleWaiters.add(resolve);
    });
  }

  /**
   * Refuses new jobs, hands buffered messages back to the queue and stops the
   * retry timers (their messages wait with the others). Safe to call twice.
   */
  stopIntake(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const [timer, message] of this.#delayed) {
      clearTimeout(timer);
      this.#ready.push(message);
    }
    this.#delayed.clear();
    if (this.#dispatcher) this.#ready.unshift(...this.#dispatcher.stopIntake());
  }

  /**
   * Stops intake, then waits for running jobs (up to `graceMs`, then aborts
   * them, which releases their messages). Safe to call twice.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.stopIntake();
    this.#closing ??= (this.#dispatcher?.drain(options.graceMs ?? 30_000) ?? Promise.resolve()).then(() => this.#wakeIdleWaiters());
    return this.#closing;
  }

  /** Hands ready messages to the dispatcher while it holds fewer than `prefetch`. */
  #feed(): void {
    const dispatcher = this.#dispatcher;
    if (!dispatcher || this.#stopped) return;
    while (this.#ready.length > 0 && dispatcher.held < this.#options.prefetch) {
      dispatcher.dispatch(this.#ready.shift()!);
    }
  }

  readonly #settler: Settler<QueuedMessage> = {
    ack: () => {},
    release: (message) => {
      this.#ready.unshift(message);
    },
    retry: (message, settlement) => {
      const retried: QueuedMessage = { ...message, headers: { ...message.headers, ...settlement.headers }, attempt: settlement.nextAttempt };
      if (this.#stopped) {
        // Failed while draining: no timer may outlive close(); it waits with the other queued messages.
        this.#ready.push(retried);
        return;
      }
      const timer = setTimeout(() => {
        this.#delayed.delete(timer);
        this.#ready.push(retried);
        this.#feed();
      }, settlement.delayMs);
      this.#delayed.set(timer, retried);
    },
    deadLetter: (message, settlement: Extract<Settlement, { outcome: 'dead-lettered' }>) => {
      this.deadLetters.push({ ...message, jobId: settlement.jobId, headers: { ...message.headers, ...settlement.headers } });
    },
  };

  #isIdle(): boolean {
    const waiting = this.#stopped ? 0 : this.#ready.length + this.#delayed.size;
    return waiting + (this.#dispatcher?.held ?? 0) === 0;
  }

  #wakeIdleWaiters(): void {
    if (!this.#isIdle()) return;
    for (const wake of this.#idleWaiters) wake();
    this.#idleWaiters.clear();
  }
}
