import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { runJob, type Delivery, type RunJobOptions, type Settlement } from './run-job.ts';

/**
 * What a queue does with a message once its job has ended. Each method settles
 * the message for good (or leaves it to the broker when its channel is gone)
 * and never throws.
 */
export interface Settler<M> {
  /** `written` or `skipped`: the message is done. */
  ack(message: M): void;
  /** `released`: shutdown interrupted the job; hand the message back untouched. */
  release(message: M): void;
  /** `retried`: a copy with the failure headers waits out `delayMs`, then the original is dropped. */
  retry(message: M, settlement: Extract<Settlement, { outcome: 'retried' }>): Promise<void> | void;
  /** `dead-lettered`: a copy with the failure headers goes to the dead-letter queue, then the original is dropped. */
  deadLetter(message: M, settlement: Extract<Settlement, { outcome: 'dead-lettered' }>): Promise<void> | void;
}

/** One settled job, for metrics, stats and intake. */
export interface SettledJob {
  readonly settlement: Settlement;
  /** The attempt that just ran: 1 on first delivery. */
  readonly attempt: number;
  /** Wall time from the start of the job to its settlement. */
  readonly durationMs: number;
}

export interface DispatcherOptions<M> {
  /** Most jobs running at once (`CONCURRENCY`). */
  readonly concurrency: number;
  /** The ports `processImage` runs with. */
  readonly deps: ProcessImageDeps;
  readonly job: Omit<RunJobOptions, 'signal' | 'log'>;
  readonly log: Logger;
  /** Reads one message as a delivery of its queue. */
  readonly delivery: (message: M) => Delivery;
  readonly settler: Settler<M>;
  /** Called once per settled message, after the settler, once its slot is free. Must not throw. */
  readonly onSettled?: (event: SettledJob) => void;
}

/**
 * The worker core every queue shares: takes messages from its queue's intake,
 * runs at most `concurrency` jobs through {@link runJob} while the rest wait
 * their turn, and hands each {@link Settlement} to the queue's {@link Settler}.
 * On shutdown it stops intake (the waiting messages go back to the caller),
 * lets running jobs finish up to a timeout, then aborts them, which settles
 * them as `released`.
 *
 * @example
 * const dispatcher = new Dispatcher({ concurrency: 8, deps, job, log, delivery: (m) => m, settler });
 * dispatcher.dispatch(message);
 * handBack(dispatcher.stopIntake());
 * await dispatcher.drain(25_000);
 */
export class Dispatcher<M> {
  readonly #options: DispatcherOptions<M>;
  readonly #waiting: M[] = [];
  readonly #running = new Set<Promise<void>>();
  /** Aborts running jobs, only once the drain timeout has passed. */
  readonly #abortJobs = new AbortController();
  #stopped = false;

  constructor(options: DispatcherOptions<M>) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.#options = options;
  }

  /** Jobs running right now (at most `concurrency`). */
  get running(): number {
    return this.#running.size;
  }

  /** Messages taken in and not settled yet: waiting plus running. */
  get held(): number {
    return this.#waiting.length + this.#running.size;
  }

  /** Runs the message's job as soon as a slot is free. False, and nothing taken, once intake has stopped. */
  dispatch(message: M): boolean {
    if (this.#stopped) return false;
    this.#waiting.push(message);
    this.#pump();
    return true;
  }

  /** Drops the waiting messages that match, for a queue that got them back by other means (a dead channel). */
  forget(matches: (message: M) => boolean): void {
    for (let index = this.#waiting.length - 1; index >= 0; index -= 1) {
      if (matches(this.#waiting[index]!)) this.#waiting.splice(index, 1);
    }
  }

  /** Stops intake; returns the waiting messages, oldest first, for the queue to hand back. */
  stopIntake(): M[] {
    this.#stopped = true;
    return this.#waiting.splice(0);
  }

  /**
   * Stops intake (waiting messages are dropped: call {@link stopIntake} first
   * to hand them back), waits for running jobs up to `timeoutMs`, then aborts
   * the rest and waits for them to settle as `released`.
   */
  async drain(timeoutMs: number): Promise<void> {
    const { log } = this.#options;
    this.stopIntake();
    if (this.#running.size === 0) return;
    log.info({ running: this.#running.size, drainTimeoutMs: timeoutMs }, 'waiting for running jobs');
    const drained = Promise.allSettled(this.#running).then(() => true);
    const timer = new AbortController();
    const timedOut = sleep(timeoutMs, false, { signal: timer.signal }).catch(() => false);
    const finished = await Promise.race([drained, timedOut]);
    timer.abort();
    if (!finished) {
      log.warn({ running: this.#running.size }, 'drain timeout: aborting running jobs; their messages are handed back');
      this.#abortJobs.abort(new Error('the worker is shutting down'));
      await Promise.allSettled(this.#running);
    }
  }

  #pump(): void {
    while (this.#running.size < this.#options.concurrency && this.#waiting.length > 0) {
      const message = this.#waiting.shift()!;
      const running: Promise<void> = this.#run(message).then((settled) => {
        this.#running.delete(running);
        this.#pump();
        if (settled) this.#options.onSettled?.(settled);
      });
      this.#running.add(running);
    }
  }

  /** Runs the job and settles its message; the event for `onSettled`, unless settling failed. */
  async #run(message: M): Promise<SettledJob | undefined> {
    const { deps, job, log, settler } = this.#options;
    const delivery = this.#options.delivery(message);
    const started = performance.now();
    const settlement = await runJob(delivery, deps, { ...job, signal: this.#abortJobs.signal, log });
    try {
      switch (settlement.outcome) {
        case 'written':
        case 'skipped':
          settler.ack(message);
          break;
        case 'released':
          settler.release(message);
          break;
        case 'retried':
          await settler.retry(message, settlement);
          break;
        case 'dead-lettered':
          await settler.deadLetter(message, settlement);
          break;
      }
      return { settlement, attempt: delivery.attempt, durationMs: performance.now() - started };
    } catch (error) {
      // Settlers never throw by contract; this only keeps a bug from stopping the worker.
      log.error({ jobId: settlement.jobId, outcome: settlement.outcome, err: errorSummary(error) }, 'settling a job failed');
      return undefined;
    }
  }
}
