import type { ChannelModel } from 'amqplib';
import { errorSummary } from '#functions/errors.ts';
import type { Logger } from '#functions/ports.ts';
import { DELIVERY_LIMIT, type Config } from '#adapters/config.ts';
import { retryDelay } from '#adapters/jobs/retry-delay.ts';

/** The config a topology is declared from. */
export type TopologyConfig = Pick<
  Config,
  'exchange' | 'queue' | 'dlx' | 'dlq' | 'routingKey' | 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs'
>;

export interface Topology {
  /** Retry queue per delay, in milliseconds, as declared. */
  readonly retryQueues: ReadonlyMap<number, string>;
  /**
   * `quorum`: `QUEUE` is the quorum queue declared here, which counts deliveries.
   * `kept`: `QUEUE` already existed with other arguments (a classic queue of an
   * earlier version) and is used as it is, without a delivery count.
   */
  readonly mainQueue: 'quorum' | 'kept';
}

/**
 * The arguments of `QUEUE`: a quorum queue, whose `x-delivery-count` header
 * counts the deliveries of a message that ended unsettled (the worker died, the
 * connection dropped, or the message was released), so a message that kills
 * workers can be recognised; `x-delivery-limit` makes the broker dead-letter it
 * on its own if that ever fails.
 */
export function mainQueueArguments(config: Pick<Config, 'dlx'>): Record<string, unknown> {
  return { 'x-queue-type': 'quorum', 'x-dead-letter-exchange': config.dlx, 'x-delivery-limit': DELIVERY_LIMIT };
}

/**
 * Where a message of `QUEUE` goes when it comes back unsettled (its worker died,
 * lost its connection or handed it back): workers take from it one message at a
 * time, so its `x-delivery-count` grows only when the message itself was held
 * by the worker that died, not when it merely shared a prefetch with a poison message.
 */
export function suspectQueueName(queue: string): string {
  return `${queue}.suspect`;
}

/** The arguments of the suspect queue: a quorum queue, like `QUEUE`, dead-lettering to `DLX` with `ROUTING_KEY`. */
export function suspectQueueArguments(config: Pick<Config, 'dlx' | 'routingKey'>): Record<string, unknown> {
  return { ...mainQueueArguments(config), 'x-dead-letter-routing-key': config.routingKey };
}

/** The retry queue that holds a message for `delayMs` before it goes back to the main exchange. */
export function retryQueueName(queue: string, delayMs: number): string {
  return `${queue}.retry.${delayMs}ms`;
}

/**
 * Every distinct delay a job can wait before its next attempt: one per failed
 * attempt that still leaves attempts (1 .. MAX_ATTEMPTS-1), capped by
 * RETRY_MAX_MS, so repeats collapse.
 */
export function retryDelays(config: Pick<Config, 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs'>): number[] {
  const delays = new Set<number>();
  for (let failed = 1; failed < config.maxAttempts; failed += 1) {
    delays.add(retryDelay(failed, config.retryBaseMs, config.retryMaxMs));
  }
  return [...delays].sort((a, b) => a - b);
}

/** The arguments of a retry queue: hold for `delayMs`, then dead-letter back to the main exchange. */
export function retryQueueArguments(config: Pick<Config, 'exchange' | 'routingKey'>, delayMs: number): Record<string, unknown> {
  return {
    'x-message-ttl': delayMs,
    'x-dead-letter-exchange': config.exchange,
    'x-dead-letter-routing-key': config.routingKey,
  };
}

/**
 * Declares the broker side, idempotently (docs/architecture.md, "RabbitMQ topology"):
 *
 * | name                     | what                                                                 |
 * | ------------------------ | -------------------------------------------------------------------- |
 * | `images`                 | direct exchange, durable                                             |
 * | `images.q`               | durable quorum queue bound with `process_image`, `x-dead-letter-exchange=images.dlx`, `x-delivery-limit=20` |
 * | `images.dlx`             | direct exchange, durable                                             |
 * | `images.dlx.q`           | durable queue bound to `images.dlx` with `process_image`             |
 * | `images.q.suspect`       | durable quorum queue, bound to nothing, dead-letters to `images.dlx` with `process_image`, `x-delivery-limit=20` |
 * | `images.q.retry.<ms>ms`  | durable queue per retry delay, bound to nothing, `x-message-ttl=<ms>`, dead-letters to `images` with `process_image` |
 *
 * A retry is published to its queue through the default exchange (routing key =
 * queue name). One queue per delay, rather than one queue with per-message TTLs,
 * because a queue expires messages only from its head: a 1 s retry would wait
 * behind a 60 s one.
 *
 * Redeclaring with different arguments fails with PRECONDITION_FAILED (406) and
 * closes the channel: the names carry their arguments, so change a name when
 * changing its arguments.
 *
 * `QUEUE` is the exception: an earlier version declared it as a classic queue,
 * which cannot become a quorum queue in place. When it exists with other
 * arguments, it is used as it is and an error is logged each time it is declared,
 * naming the migration (README, "Poison messages").
 *
 * Declares on channels of its own, since a refused declaration closes its channel.
 */
export async function assertTopology(connection: ChannelModel, config: TopologyConfig, log: Logger): Promise<Topology> {
  const mainQueue = await assertMainQueue(connection, config, log);
  const channel = await connection.createChannel();
  try {
    await channel.assertExchange(config.exchange, 'direct', { durable: true });
    await channel.assertExchange(config.dlx, 'direct', { durable: true });
    await channel.bindQueue(config.queue, config.exchange, config.routingKey);
    await channel.assertQueue(config.dlq, { durable: true });
    await channel.bindQueue(config.dlq, config.dlx, config.routingKey);
    await channel.assertQueue(suspectQueueName(config.queue), { durable: true, arguments: suspectQueueArguments(config) });

    const retryQueues = new Map<number, string>();
    for (const delayMs of retryDelays(config)) {
      const name = retryQueueName(config.queue, delayMs);
      await channel.assertQueue(name, { durable: true, arguments: retryQueueArguments(config, delayMs) });
      retryQueues.set(delayMs, name);
    }
    return { retryQueues, mainQueue };
  } finally {
    await channel.close().catch(() => {});
  }
}

async function assertMainQueue(connection: ChannelModel, config: TopologyConfig, log: Logger): Promise<Topology['mainQueue']> {
  const declaring = await connection.createChannel();
  declaring.on('error', () => {});
  try {
    await declaring.assertQueue(config.queue, { durable: true, arguments: mainQueueArguments(config) });
    await declaring.close();
    return 'quorum';
  } catch (error) {
    if (!isPreconditionFailed(error)) throw error;
    const checking = await connection.createChannel();
    try {
      await checking.checkQueue(config.queue);
    } finally {
      await checking.close().catch(() => {});
    }
    log.error(
      { queue: config.queue, broker: errorSummary(error) },
      `${config.queue} exists with other arguments (a classic queue of an earlier version?): using it as it is, ` +
        'so a message that crashes workers is redelivered without limit. Move it to a quorum queue: README, "Poison messages".',
    );
    return 'kept';
  }
}

/** The broker refused a declaration because the entity exists with other arguments (406). */
function isPreconditionFailed(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 406;
}
