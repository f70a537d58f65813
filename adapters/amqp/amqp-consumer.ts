import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, ChannelModel, ConsumeMessage, MessagePropertyHeaders, Options } from 'amqplib';
import type { Config } from '#adapters/config.ts';
import { runJob, type FailureHeaders, type Settlement } from '#adapters/jobs/run-job.ts';
import { errorCode, errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { connectAmqp, describeBroker } from './connect.ts';
import { ConfirmedChannel } from './confirmed-channel.ts';
import { deliveryCountOf } from './delivery-count.ts';
import { assertTopology, retryQueueArguments, retryQueueName, type TopologyConfig } from './topology.ts';

export type AmqpConsumerConfig = TopologyConfig & Pick<Config, 'prefetch' | 'concurrency'> & Partial<Pick<Config, 'maxDeliveries'>>;

export interface AmqpConsumerOptions {
  /** `RABBIT_URL`. */
  readonly url: string;
  readonly config: AmqpConsumerConfig;
  /** The ports `processImage` runs with. */
  readonly deps: ProcessImageDeps;
  readonly log: Logger;
  /** How long `close()` lets running jobs finish before aborting them. Default 30 s. */
  readonly drainTimeoutMs?: number;
  /** Longest wait between reconnection attempts. Default 30 s. */
  readonly reconnectMaxDelayMs?: number;
  /** Shown in the broker's management UI. */
  readonly connectionName?: string;
  /** Called once per settled delivery, for metrics. Must not throw. */
  readonly onSettled?: (event: SettledDelivery) => void;
}

export interface SettledDelivery {
  readonly settlement: Settlement;
  /** The attempt that just ran: 1 on first delivery. */
  readonly attempt: number;
  /** Wall time from the start of the job to its settlement. */
  readonly durationMs: number;
}

interface Session {
  readonly connection: ChannelModel;
  /** Consumes and acks. */
  readonly channel: Channel;
  /** Publishes retries and dead letters, with confirms. */
  readonly publisher: ConfirmedChannel;
  readonly retryQueues: Map<number, string>;
  consumerTag: string | undefined;
  lost: boolean;
}

interface Received {
  readonly session: Session;
  readonly message: ConsumeMessage;
}

/** Headers the broker writes when it dead-letters; it writes them afresh each time. */
const BROKER_DEATH_HEADERS = /^x-(death|first-death-|last-death-)/;

/**
 * The AMQP adapter of `processImage`: consumes `QUEUE` with manual acks,
 * `prefetch` = `PREFETCH`, and runs at most `CONCURRENCY` jobs at once (the
 * rest of the prefetched messages wait in memory). Each delivery goes through
 * {@link runJob}, with attempt = `x-attempts` + 1 (1 for a fresh message), and
 * is settled by the one error-mapping table:
 *
 * | settlement    | on the broker                                                                 |
 * | ------------- | ----------------------------------------------------------------------------- |
 * | `ack`         | ack                                                                           |
 * | `retry`       | copy (same body and properties, original headers + failure headers) to `<QUEUE>.retry.<ms>ms`, confirmed, then ack |
 * | `dead-letter` | copy with `x-error-code`, `x-error-message`, `x-attempts` to `DLX`/`ROUTING_KEY`, confirmed, then ack |
 * | `release`     | nack with requeue (only when shutdown aborted the job)                        |
 *
 * When a copy cannot be published, the original is rejected without requeue,
 * so the queue's own `x-dead-letter-exchange` still dead-letters it: never a
 * requeue loop, nothing lost.
 *
 * The consumer owns its connection. It reconnects with backoff when the
 * connection drops (unsettled messages go back to the queue on their own), and
 * {@link consuming} says whether it consumes right now, for health checks.
 *
 * @example
 * const consumer = new AmqpConsumer({ url: config.rabbitUrl, config, deps, log });
 * await consumer.start();       // resolves once consuming
 * process.once('SIGTERM', () => consumer.close());
 */
export class AmqpConsumer {
  readonly #options: AmqpConsumerOptions;
  readonly #waiting: Received[] = [];
  readonly #running = new Set<Promise<void>>();
  /** Aborts running jobs, only once the drain timeout has passed. */
  readonly #abortJobs = new AbortController();
  /** Interrupts reconnection waits as soon as `close()` starts. */
  readonly #stopReconnecting = new AbortController();
  #session: Session | undefined;
  #connecting: Promise<void> | undefined;
  #stopped = false;
  #closing: Promise<void> | undefined;

  constructor(options: AmqpConsumerOptions) {
    const { prefetch, concurrency } = options.config;
    if (!Number.isInteger(prefetch) || prefetch < 1) throw new RangeError('prefetch must be a positive integer');
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    this.#options = options;
  }

  /** True while a consumer is registered on the queue and `close()` has not begun. */
  get consuming(): boolean {
    return this.#session !== undefined && !this.#stopped;
  }

  /** Jobs running right now (at most `CONCURRENCY`). */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Connects, declares the topology and starts consuming. Resolves once
   * consuming; while the broker is unreachable it keeps trying, with backoff,
   * and logs each failure. Resolves without consuming if `close()` comes first.
   */
  start(): Promise<void> {
    if (this.#session) return Promise.resolve();
    this.#connecting ??= this.#connectUntilConsuming();
    return this.#connecting;
  }

  /**
   * Stops intake (cancels the consumer, hands back messages not started yet),
   * waits for running jobs up to the drain timeout, then aborts the rest (their
   * messages are requeued), and closes channels and connection. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const { log, drainTimeoutMs = 30_000 } = this.#options;
    this.#stopped = true;
    this.#stopReconnecting.abort();
    await this.#connecting;
    const session = this.#session;
    if (session?.consumerTag !== undefined && !session.lost) {
      try {
        await session.channel.cancel(session.consumerTag);
      } catch (error) {
        log.warn({ err: errorSummary(error) }, 'could not cancel the consumer');
      }
    }
    for (const { session: from, message } of this.#waiting.splice(0)) this.#nack(from, message, true);

    if (this.#running.size > 0) {
      log.info({ running: this.#running.size, drainTimeoutMs }, 'waiting for running jobs');
      const drained = Promise.allSettled(this.#running).then(() => true);
      const timer = new AbortController();
      const timedOut = sleep(drainTimeoutMs, false, { signal: timer.signal }).catch(() => false);
      const finished = await Promise.race([drained, timedOut]);
      timer.abort();
      if (!finished) {
        log.warn({ running: this.#running.size }, 'drain timeout: aborting running jobs; their messages go back to the queue');
        this.#abortJobs.abort(new Error('the worker is shutting down'));
        await Promise.allSettled(this.#running);
      }
    }

    if (session) {
      this.#session = undefined;
      session.lost = true;
      await closeQuietly(() => session.publisher.close());
      await closeQuietly(() => session.channel.close());
      await closeQuietly(() => session.connection.close());
    }
  }

  async #connectUntilConsuming(): Promise<void> {
    const { url, log, reconnectMaxDelayMs = 30_000 } = this.#options;
    for (let failures = 0; !this.#stopped; failures += 1) {
      try {
        await this.#openSession();
        this.#connecting = undefined;
        return;
      } catch (error) {
        const delayMs = Math.min(reconnectMaxDelayMs, 500 * 2 ** failures);
        log.error({ broker: describeBroker(url), code: errorCode(error), err: errorSummary(error), retryInMs: delayMs }, 'cannot consume; retrying');
        await sleep(delayMs, undefined, { signal: this.#stopReconnecting.signal }).catch(() => {});
      }
    }
  }

  async #openSession(): Promise<void> {
    const { url, config, log, connectionName = 'imgpipe worker' } = this.#options;
    const connection = await connectAmqp(url, { connectionName });
    try {
      const channel = await connection.createChannel();
      channel.on('error', () => {});
      const publisher = new ConfirmedChannel(await connection.createConfirmChannel());
      const topology = await assertTopology(connection, config, log);
      await channel.prefetch(config.prefetch);
      const session: Session = {
        connection,
        channel,
        publisher,
        retryQueues: new Map(topology.retryQueues),
        consumerTag: undefined,
        lost: false,
      };
      connection.once('close', () => this.#lose(session, 'the broker connection closed'));
      channel.once('close', () => this.#lose(session, 'the consuming channel closed'));
      publisher.channel.once('close', () => this.#lose(session, 'the publishing channel closed'));
      if (this.#stopped) throw new Error('closed while connecting');
      const { consumerTag } = await channel.consume(
        config.queue,
        (message) => {
          if (message) this.#receive(session, message);
          else this.#lose(session, 'the broker cancelled the consumer');
        },
        { noAck: false },
      );
      session.consumerTag = consumerTag;
      if (session.lost) throw new Error('the connection dropped while the consumer started');
      this.#session = session;
      log.info({ broker: describeBroker(url), queue: config.queue, prefetch: config.prefetch, concurrency: config.concurrency }, 'consuming');
    } catch (error) {
      await closeQuietly(() => connection.close());
      throw error;
    }
  }

  #lose(session: Session, reason: string): void {
    if (session.lost) return;
    session.lost = true;
    if (this.#session === session) this.#session = undefined;
    // Unsettled messages of a lost channel go back to the queue by themselves.
    for (let index = this.#waiting.length - 1; index >= 0; index -= 1) {
      if (this.#waiting[index]!.session === session) this.#waiting.splice(index, 1);
    }
    void closeQuietly(() => session.connection.close());
    if (this.#stopped) return;
    this.#options.log.warn({ reason }, 'stopped consuming; reconnecting');
    this.#connecting ??= this.#connectUntilConsuming();
  }

  #receive(session: Session, message: ConsumeMessage): void {
    if (this.#stopped) {
      this.#nack(session, message, true);
      return;
    }
    this.#waiting.push({ session, message });
    this.#pump();
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#options.config.concurrency && this.#waiting.length > 0) {
      const { session, message } = this.#waiting.shift()!;
      const running: Promise<void> = this.#handle(session, message).finally(() => {
        this.#running.delete(running);
        this.#pump();
      });
      this.#running.add(running);
    }
  }

  async #handle(session: Session, message: ConsumeMessage): Promise<void> {
    const { config, deps, log, onSettled } = this.#options;
    const attempt = attemptOf(message.properties.headers);
    const started = performance.now();
    let settlement: Settlement;
    try {
      settlement = await runJob(
        { body: message.content, headers: message.properties.headers, messageId: message.properties.messageId as string | undefined, attempt, deliveryCount: deliveryCountOf(message.properties.headers) },
        deps,
        {
          maxAttempts: config.maxAttempts,
          maxDeliveries: config.maxDeliveries,
          retryBaseMs: config.retryBaseMs,
          retryMaxMs: config.retryMaxMs,
          destination: { exchange: config.exchange, routingKey: config.routingKey },
          signal: this.#abortJobs.signal,
          log,
        },
      );
    } catch (error) {
      // runJob settles every failure itself; this only keeps a bug from losing the message.
      log.error({ messageId: message.properties.messageId, err: errorSummary(error) }, 'job runner threw');
      settlement = {
        action: 'dead-letter',
        jobId: undefined,
        headers: { 'x-error-code': errorCode(error), 'x-error-message': errorSummary(error), 'x-attempts': attempt },
      };
    }
    await this.#settle(session, message, settlement);
    try {
      onSettled?.({ settlement, attempt, durationMs: performance.now() - started });
    } catch (error) {
      log.warn({ err: errorSummary(error) }, 'onSettled threw');
    }
  }

  async #settle(session: Session, message: ConsumeMessage, settlement: Settlement): Promise<void> {
    const { config } = this.#options;
    switch (settlement.action) {
      case 'ack':
        this.#ack(session, message);
        return;
      case 'release':
        this.#nack(session, message, true);
        return;
      case 'retry': {
        await this.#forward(session, message, settlement.headers, async () => {
          const queue = await this.#retryQueue(session, settlement.delayMs);
          return { exchange: '', routingKey: queue };
        });
        return;
      }
      case 'dead-letter':
        await this.#forward(session, message, settlement.headers, async () => ({ exchange: config.dlx, routingKey: config.routingKey }));
        return;
    }
  }

  /** Publishes a copy with the failure headers and acks the original once the broker confirmed the copy. */
  async #forward(
    session: Session,
    message: ConsumeMessage,
    failure: FailureHeaders,
    target: () => Promise<{ exchange: string; routingKey: string }>,
  ): Promise<void> {
    try {
      const { exchange, routingKey } = await target();
      await session.publisher.publish(exchange, routingKey, message.content, copyProperties(message, failure));
      this.#ack(session, message);
    } catch (error) {
      this.#options.log.error(
        { messageId: message.properties.messageId, code: errorCode(error), err: errorSummary(error) },
        'could not forward the failed message; rejecting it to the dead-letter exchange',
      );
      this.#nack(session, message, false);
    }
  }

  /** The retry queue for a delay; one the topology did not foresee (config changed) is declared on first use. */
  async #retryQueue(session: Session, delayMs: number): Promise<string> {
    const known = session.retryQueues.get(delayMs);
    if (known) return known;
    const name = retryQueueName(this.#options.config.queue, delayMs);
    await session.publisher.channel.assertQueue(name, { durable: true, arguments: retryQueueArguments(this.#options.config, delayMs) });
    session.retryQueues.set(delayMs, name);
    return name;
  }

  #ack(session: Session, message: ConsumeMessage): void {
    if (session.lost) return;
    try {
      session.channel.ack(message);
    } catch (error) {
      this.#options.log.warn({ messageId: message.properties.messageId, err: errorSummary(error) }, 'could not ack; the broker will redeliver');
    }
  }

  #nack(session: Session, message: ConsumeMessage, requeue: boolean): void {
    if (session.lost) return;
    try {
      session.channel.nack(message, false, requeue);
    } catch (error) {
      this.#options.log.warn({ messageId: message.properties.messageId, err: errorSummary(error) }, 'could not nack; the broker will redeliver');
    }
  }
}

/** `x-attempts` counts failed attempts, so this delivery is attempt `x-attempts` + 1. */
export function attemptOf(headers: MessagePropertyHeaders | undefined): number {
  const raw: unknown = headers?.['x-attempts'];
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' || Buffer.isBuffer(raw) ? Number(raw.toString()) : Number.NaN;
  return Number.isSafeInteger(value) && value >= 0 ? value + 1 : 1;
}

function copyProperties(message: ConsumeMessage, failure: FailureHeaders): Options.Publish {
  const { properties } = message;
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(properties.headers ?? {})) {
    if (!BROKER_DEATH_HEADERS.test(name)) headers[name] = value;
  }
  Object.assign(headers, failure);
  return {
    persistent: true,
    mandatory: true,
    contentType: properties.contentType ?? 'application/json',
    contentEncoding: properties.contentEncoding,
    messageId: properties.messageId,
    correlationId: properties.correlationId,
    timestamp: properties.timestamp,
    type: properties.type,
    appId: properties.appId,
    headers,
  };
}

async function closeQuietly(close: () => Promise<void>): Promise<void> {
  try {
    await close();
  } catch {
    // Already closed, or the broker is gone: nothing left to release.
  }
}
