import { errorCode, errorSummary, TransientError } from '#functions/errors.ts';
import type { Job } from '#functions/job.ts';
import type { JobPublisher, Logger } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { runJob, type Delivery, type FailureHeaders, type Settlement } from '#adapters/jobs/run-job.ts';
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

export interface InProcessQueueStats {
  readonly published: number;
  /** Waiting to be handed to the consumer (the queue's depth). */
  readonly ready: number;
  /** Handed to the consumer and not yet settled: buffered plus running. */
  readonly unacked: number;
  readonly running: number;
  /** Waiting out a retry delay. */
  readonly delayed: number;
  readonly written: number;
  readonly skipped: number;
  readonly retried: number;
  readonly deadLettered: number;
  readonly released: number;
}

/**
 * The broker path's semantics in memory, for the local host: a {@link JobPublisher}
 * whose `publish` enqueues one message per job (JSON body, trace context in the
 * headers, `messageId` = job id), and a consumer that hands out at most
 * `prefetch` unsettled messages and runs at most `concurrency` jobs through
 * {@link runJob}, settling each as the AMQP consumer would:
 *
 * - `ack` → dropped;
 * - `retry` → re-enqueued after `delayMs` with `x-attempts` and the last error;
 * - `dead-letter` → kept in {@link deadLetters} with `x-error-code`,
 *   `x-error-message` and `x-attempts`;
 * - `release` (shutdown mid-job) → put back at the front.
 *
 * Nothing outlives the process: the host reloads its table on start and skips
 * outputs that exist, so a restart redoes only unfinished work.
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
  readonly #buffered: QueuedMessage[] = [];
  readonly #running = new Set<Promise<void>>();
  readonly #retryTimers = new Set<NodeJS.Timeout>();
  readonly #idleWaiters = new Set<() => void>();
  readonly #abort = new AbortController();
  #deps: ProcessImageDeps | undefined;
  #closing: Promise<void> | undefined;
  #counts = { published: 0, written: 0, skipped: 0, retried: 0, deadLettered: 0, released: 0 };

  constructor(options: InProcessQueueOptions) {
    if (!Number.isInteger(options.prefetch) || options.prefetch < 1) throw new RangeError('prefetch must be a positive integer');
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.#options = options;
  }

  /** Enqueues one message per job; resolves once all are in the queue (the in-memory confirm). */
  async publish(jobs: readonly Job[]): Promise<void> {
    if (this.#closing) throw new TransientError('QUEUE_CLOSED', 'the in-process queue is shut down');
    for (const job of jobs) {
      const span = startProducerSpan(this.#options.destination, job.id);
      this.#ready.push({ body: JSON.stringify(job), headers: { ...span.headers }, messageId: job.id, attempt: 1 });
      this.#counts.published += 1;
      span.end();
    }
    this.#pump();
  }

  async ping(): Promise<void> {
    if (this.#closing) throw new TransientError('QUEUE_CLOSED', 'the in-process queue is shut down');
  }

  /** Starts the consumer with the ports `processImage` needs. Call once. */
  consume(deps: ProcessImageDeps): void {
    if (this.#deps) throw new Error('the in-process queue already has a consumer');
    this.#deps = deps;
    this.#pump();
  }

  stats(): InProcessQueueStats {
    return {
      ...this.#counts,
      ready: this.#ready.length,
      unacked: this.#buffered.length + this.#running.size,
      running: this.#running.size,
      delayed: this.#retryTimers.size,
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
   * Stops intake, hands buffered messages back, waits for running jobs (up to
   * `graceMs`, then aborts them, which releases their messages), and drops
   * pending retry timers. Safe to call twice.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.graceMs ?? 30_000);
    return this.#closing;
  }

  async #shutdown(graceMs: number): Promise<void> {
    this.#ready.unshift(...this.#buffered.splice(0));
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    if (this.#running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      try {
        await Promise.race([Promise.all(this.#running), grace]);
      } finally {
        clearTimeout(timer);
      }
      this.#abort.abort(new Error('the host is shutting down'));
      await Promise.all(this.#running);
    }
    this.#wakeIdleWaiters();
  }

  #pump(): void {
    const deps = this.#deps;
    if (!deps || this.#closing) return;
    while (this.#ready.length > 0 && this.#buffered.length + this.#running.size < this.#options.prefetch) {
      this.#buffered.push(this.#ready.shift()!);
    }
    while (this.#buffered.length > 0 && this.#running.size < this.#options.concurrency) {
      const message = this.#buffered.shift()!;
      const running: Promise<void> = this.#run(message, deps).finally(() => {
        this.#running.delete(running);
        this.#pump();
        this.#wakeIdleWaiters();
      });
      this.#running.add(running);
    }
  }

  async #run(message: QueuedMessage, deps: ProcessImageDeps): Promise<void> {
    const { destination, maxAttempts, retryBaseMs, retryMaxMs, log } = this.#options;
    const delivery: Delivery = { body: message.body, headers: { ...message.headers }, messageId: message.messageId, attempt: message.attempt };
    let settlement: Settlement;
    try {
      settlement = await runJob(delivery, deps, { destination, maxAttempts, retryBaseMs, retryMaxMs, signal: this.#abort.signal, log });
    } catch (error) {
      // runJob settles every failure itself; this only keeps a bug from losing the message.
      const headers = { 'x-error-code': errorCode(error), 'x-error-message': errorSummary(error), 'x-attempts': message.attempt };
      log.error({ messageId: message.messageId, code: headers['x-error-code'], reason: headers['x-error-message'] }, 'job runner threw');
      settlement = { action: 'dead-letter', jobId: undefined, headers };
    }
    this.#settle(message, settlement);
  }

  #settle(message: QueuedMessage, settlement: Settlement): void {
    switch (settlement.action) {
      case 'ack':
        this.#counts[settlement.result.outcome] += 1;
        return;
      case 'release':
        this.#counts.released += 1;
        this.#ready.unshift(message);
        return;
      case 'retry': {
        this.#counts.retried += 1;
        const retried: QueuedMessage = { ...message, headers: { ...message.headers, ...settlement.headers }, attempt: settlement.nextAttempt };
        if (this.#closing) {
          // Failed while draining: no timer may outlive close(); it waits with the other queued messages.
          this.#ready.push(retried);
          return;
        }
        const timer = setTimeout(() => {
          this.#retryTimers.delete(timer);
          this.#ready.push(retried);
          this.#pump();
        }, settlement.delayMs);
        this.#retryTimers.add(timer);
        return;
      }
      case 'dead-letter':
        this.#counts.deadLettered += 1;
        this.deadLetters.push({ ...message, jobId: settlement.jobId, headers: { ...message.headers, ...settlement.headers } });
        return;
    }
  }

  #isIdle(): boolean {
    const waiting = this.#closing ? 0 : this.#ready.length + this.#retryTimers.size;
    return waiting + this.#buffered.length + this.#running.size === 0;
  }

  #wakeIdleWaiters(): void {
    if (!this.#isIdle()) return;
    for (const wake of this.#idleWaiters) wake();
    this.#idleWaiters.clear();
  }
}
