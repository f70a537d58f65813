import type { Config } from '#adapters/config.ts';
import { Dispatcher, type SettledJob } from '#adapters/jobs/dispatcher.ts';
import type { Logger } from '#functions/ports.ts';
import type { ProcessImageDeps } from '#functions/process-image.ts';
import { AmqpSettler, attemptOf, type Received } from './amqp-settler.ts';
import { deliveryCountOf } from './delivery-count.ts';
import { ConsumerConnection, type ConsumerSession } from './consumer-connection.ts';
import type { TopologyConfig } from './topology.ts';

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
  readonly onSettled?: (event: SettledJob) => void;
}

/**
 * The AMQP intake of the worker core: consumes `QUEUE` with manual acks and
 * `prefetch` = `PREFETCH` (a {@link ConsumerConnection}, which reconnects on
 * its own), hands each delivery to the {@link Dispatcher} with attempt =
 * `x-attempts` + 1, and settles it on the channel it came from
 * ({@link AmqpSettler}).
 *
 * A message of `QUEUE` that comes back unsettled (`x-delivery-count` > 0: a
 * worker died holding it, lost its connection or handed it back) is not run
 * but moved to the suspect queue, which each worker consumes one message at a
 * time. There the count grows only for the message a dying worker held, so
 * the jobs that merely shared a prefetch with a poison message run normally,
 * and the poison message reaches `MAX_DELIVERIES` alone and is dead-lettered
 * as `POISON_MESSAGE` by `runJob`.
 *
 * @example
 * const consumer = new AmqpConsumer({ url: config.rabbitUrl, config, deps, log });
 * await consumer.start();       // resolves once consuming
 * process.once('SIGTERM', () => consumer.close());
 */
export class AmqpConsumer {
  readonly #connection: ConsumerConnection;
  readonly #dispatcher: Dispatcher<Received>;
  readonly #settler: AmqpSettler;
  readonly #drainTimeoutMs: number;
  #stopping: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: AmqpConsumerOptions) {
    const { config, deps, log } = options;
    if (!Number.isInteger(config.prefetch) || config.prefetch < 1) throw new RangeError('prefetch must be a positive integer');
    this.#drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.#settler = new AmqpSettler(config, log);
    this.#dispatcher = new Dispatcher<Received>({
      concurrency: config.concurrency,
      deps,
      log,
      job: {
        maxAttempts: config.maxAttempts,
        maxDeliveries: config.maxDeliveries,
        retryBaseMs: config.retryBaseMs,
        retryMaxMs: config.retryMaxMs,
        destination: { exchange: config.exchange, routingKey: config.routingKey },
      },
      delivery: ({ message }) => ({
        body: message.content,
        headers: message.properties.headers,
        messageId: message.properties.messageId as string | undefined,
        attempt: attemptOf(message.properties.headers),
        deliveryCount: deliveryCountOf(message.properties.headers),
      }),
      settler: this.#settler,
      onSettled: options.onSettled,
    });
    this.#connection = new ConsumerConnection({
      url: options.url,
      config,
      log,
      reconnectMaxDelayMs: options.reconnectMaxDelayMs,
      connectionName: options.connectionName,
      onMessage: (session, message, suspect) => {
        const received = { session, message };
        if (!suspect && (deliveryCountOf(message.properties.headers) ?? 0) > 0) void this.#settler.quarantine(received);
        else if (!this.#dispatcher.dispatch(received)) this.#settler.release(received);
      },
      // Unsettled messages of a lost channel go back to the queue by themselves.
      onLost: (session: ConsumerSession) => this.#dispatcher.forget((received) => received.session === session),
    });
  }

  /** True while a consumer is registered on the queue and `close()` has not begun. */
  get consuming(): boolean {
    return this.#connection.consuming && !this.#stopping;
  }

  /** Jobs running right now (at most `CONCURRENCY`). */
  get running(): number {
    return this.#dispatcher.running;
  }

  /**
   * Connects, declares the topology and starts consuming. Resolves once
   * consuming; while the broker is unreachable it keeps trying, with backoff,
   * and logs each failure. Resolves without consuming if `close()` comes first.
   */
  start(): Promise<void> {
    return this.#connection.start();
  }

  /** Cancels the consumer and hands back the messages not started yet. Safe to call twice. */
  stopIntake(): Promise<void> {
    this.#stopping ??= this.#connection.stop().then(() => {
      for (const received of this.#dispatcher.stopIntake()) this.#settler.release(received);
    });
    return this.#stopping;
  }

  /**
   * Stops intake, waits for running jobs up to the drain timeout, then aborts
   * the rest (their messages are requeued), and closes channels and
   * connection. Safe to call twice.
   */
  close(): Promise<void> {
    this.#closing ??= this.stopIntake()
      .then(() => this.#dispatcher.drain(this.#drainTimeoutMs))
      .then(() => this.#connection.close());
    return this.#closing;
  }
}
