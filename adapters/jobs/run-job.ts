import { errorCode, errorKind, errorSummary, InvalidInputError, retryAfterMs } from '#functions/errors.ts';
import { parseJob, type Job } from '#functions/job.ts';
import type { Logger } from '#functions/ports.ts';
import { processImage, type ProcessImageDeps, type ProcessImageResult } from '#functions/process-image.ts';
import { withConsumerSpan, type Destination } from '#adapters/telemetry/message-tracing.ts';
import { poisonMessage } from './poison-message.ts';
import { retryDelay } from './retry-delay.ts';

/** One delivery of one message, as any queue hands it over. */
export interface Delivery {
  readonly body: Uint8Array | string;
  readonly headers: Record<string, unknown> | undefined;
  readonly messageId: string | undefined;
  /** 1 on first delivery; carried in `x-attempts` across retries. */
  readonly attempt: number;
  /** Earlier deliveries that ended unsettled (a quorum queue's `x-delivery-count`); undefined where not counted. */
  readonly deliveryCount?: number;
}

export interface RunJobOptions {
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly destination: Destination;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** `MAX_DELIVERIES`: a delivery with this many unsettled ones before it is poison. Unset: no limit. */
  readonly maxDeliveries?: number;
}

export interface FailureHeaders {
  readonly 'x-error-code': string;
  readonly 'x-error-message': string;
  readonly 'x-attempts': number;
}

/** How a job ended: the one vocabulary of settlements, logs, metrics and stats. */
export type Outcome = 'written' | 'skipped' | 'retried' | 'dead-lettered' | 'released';

export const OUTCOMES: readonly Outcome[] = ['written', 'skipped', 'retried', 'dead-lettered', 'released'];

/**
 * How a delivery ended, which says what the queue must do with it: the one
 * error-mapping table for workers. `written` and `skipped` are acked;
 * `released` means the worker is shutting down mid-job: hand the message back
 * untouched for another worker.
 */
export type Settlement =
  | { readonly outcome: 'written' | 'skipped'; readonly jobId: string; readonly result: ProcessImageResult }
  | { readonly outcome: 'released'; readonly jobId: string | undefined }
  | { readonly outcome: 'retried'; readonly jobId: string | undefined; readonly delayMs: number; readonly nextAttempt: number; readonly headers: FailureHeaders }
  | { readonly outcome: 'dead-lettered'; readonly jobId: string | undefined; readonly headers: FailureHeaders };

/**
 * Decodes one delivery, runs `processImage` inside the consumer span, and says
 * how to settle it: ack on success or skip; retry later on a transient failure
 * while attempts remain; dead-letter, with the reason in headers, on invalid
 * input, a permanent failure, or the last attempt. Never throws.
 */
export async function runJob(delivery: Delivery, deps: ProcessImageDeps, options: RunJobOptions): Promise<Settlement> {
  const poison = poisonMessage(delivery, options.maxDeliveries);
  if (poison) {
    logSettlement(options.log, poison, delivery.attempt, 0);
    return poison;
  }
  const started = deps.clock.now();
  const messageId = delivery.messageId ?? 'unknown';
  const settlement = await withConsumerSpan(delivery.headers, options.destination, messageId, async (span) => {
    let job: Job | undefined;
    try {
      job = decode(delivery.body);
      span.setAttribute('imgpipe.job.id', job.id);
      span.setAttribute('imgpipe.attempt', delivery.attempt);
      const isLastAttempt = delivery.attempt >= options.maxAttempts;
      const result = await processImage(job, deps, { signal: options.signal, log: options.log, attempt: delivery.attempt, isLastAttempt });
      span.setAttribute('imgpipe.outcome', result.outcome);
      return { outcome: result.outcome, jobId: job.id, result } as const;
    } catch (error) {
      if (options.signal.aborted) return { outcome: 'released', jobId: job?.id } as const;
      const settled = settle(error, job?.id, delivery.attempt, options);
      span.setAttribute('imgpipe.outcome', settled.outcome);
      span.setAttribute('imgpipe.error.code', settled.headers['x-error-code']);
      if (settled.outcome === 'dead-lettered') throw new SettledFailure(settled, error);
      return settled;
    }
  }).catch((error: unknown) => {
    if (error instanceof SettledFailure) return error.settlement;
    return settle(error, undefined, delivery.attempt, options);
  });
  logSettlement(options.log, settlement, delivery.attempt, deps.clock.now() - started);
  return settlement;
}

/** Carries a dead-letter decision out of the span so the span records the error. */
class SettledFailure extends Error {
  override readonly name = 'SettledFailure';
  constructor(readonly settlement: Settlement, cause: unknown) {
    super(errorSummary(cause), { cause });
  }
}

function decode(body: Uint8Array | string): Job {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError('body', 'is not valid JSON', { cause });
  }
  return parseJob(value);
}

type FailedSettlement = Extract<Settlement, { outcome: 'retried' | 'dead-lettered' }>;

function settle(error: unknown, jobId: string | undefined, attempt: number, options: RunJobOptions): FailedSettlement {
  const headers: FailureHeaders = {
    'x-error-code': errorCode(error),
    'x-error-message': errorSummary(error),
    'x-attempts': attempt,
  };
  if (errorKind(error) === 'transient' && attempt < options.maxAttempts) {
    return {
      outcome: 'retried',
      jobId,
      delayMs: retryDelay(attempt, options.retryBaseMs, options.retryMaxMs, retryAfterMs(error)),
      nextAttempt: attempt + 1,
      headers,
    };
  }
  return { outcome: 'dead-lettered', jobId, headers };
}

function logSettlement(log: Logger, settlement: Settlement, attempt: number, ms: number): void {
  const { outcome, jobId } = settlement;
  switch (outcome) {
    case 'written':
    case 'skipped':
      log.info({ jobId, outcome, ms, attempt }, 'job done');
      return;
    case 'released':
      log.warn({ jobId, outcome, ms, attempt }, 'job interrupted by shutdown, handed back');
      return;
    case 'retried':
    case 'dead-lettered': {
      const context = { jobId, outcome, ms, attempt, code: settlement.headers['x-error-code'], reason: settlement.headers['x-error-message'] };
      if (outcome === 'retried') log.warn(context, 'job failed, will retry');
      else log.error(context, 'job dead-lettered');
    }
  }
}
